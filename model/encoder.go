package model

// encoderForward writes the token plus position embeddings.
//
//	out: (B,T,C)  tokens: (B,T)  wte: (V,C)  wpe: (maxT,C)
func encoderForward(out []float32, tokens []int32, wte, wpe []float32, b, t, c int) {
	v := len(wte) / c
	for bt := 0; bt < b*t; bt++ {
		tok := int(tokens[bt])
		if tok < 0 || tok >= v {
			panic("model: token out of range")
		}
		o := out[bt*c : bt*c+c]
		we := wte[tok*c : tok*c+c]
		pe := wpe[(bt%t)*c : (bt%t)*c+c]
		for i := range o {
			o[i] = we[i] + pe[i]
		}
	}
}

// encoderBackward adds the embedding gradients for columns [lo, hi) of C:
// each thread owns a range of columns and walks every position in order, so
// the sums do not depend on the split.
//
//	dwte: (V,C)  dwpe: (maxT,C)  dOut: (B,T,C)  tokens: (B,T)
func encoderBackward(dwte, dwpe, dOut []float32, tokens []int32, b, t, c, lo, hi int) {
	for bt := 0; bt < b*t; bt++ {
		tok := int(tokens[bt])
		d := dOut[bt*c+lo : bt*c+hi]
		we := dwte[tok*c+lo : tok*c+hi]
		pe := dwpe[(bt%t)*c+lo : (bt%t)*c+hi]
		for i, x := range d {
			we[i] += x
			pe[i] += x
		}
	}
}

// encoderBackwardJob runs encoderBackward over column chunks.
type encoderBackwardJob struct {
	dwte, dwpe, dOut []float32
	tokens           []int32
	b, t, c          int
}

func (j *encoderBackwardJob) run(lo, hi int) {
	encoderBackward(j.dwte, j.dwpe, j.dOut, j.tokens, j.b, j.t, j.c, lo*colChunk, min(hi*colChunk, j.c))
}

// colChunk is the column granularity of reductions over rows: 16 floats,
// one cache line.
const colChunk = 16

func colChunks(c int) int { return (c + colChunk - 1) / colChunk }

// encoderBackward runs encoderBackward in parallel over column chunks.
func (k *kern) encoderBackward(dwte, dwpe, dOut []float32, tokens []int32, b, t, c int) {
	k.encoderBwdJob = encoderBackwardJob{dwte: dwte, dwpe: dwpe, dOut: dOut, tokens: tokens, b: b, t: t, c: c}
	parallel(colChunks(c), 1, &k.encoderBwdJob)
}
