package model

// GELU in its tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), which is
// PyTorch's GELU(approximate="tanh") and GPT-2's. (nanoGPT's nn.GELU() is the
// exact erf form; the two differ by under 1e-3. The PyTorch parity script
// builds its model with the tanh form.)

const (
	geluK = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
)

// geluForward writes GELU of elements [lo, hi) and caches the tanh for the
// backward.
//
//	out, th, in: (N)
func geluForward(out, th, in []float32, lo, hi int) {
	if useAVX2 {
		n8 := (hi - lo) &^ 7
		if n8 > 0 {
			_, _, _ = out[lo+n8-1], th[lo+n8-1], in[lo+n8-1]
			geluForwardAVX2(&out[lo], &th[lo], &in[lo], n8)
		}
		lo += n8
	}
	geluForwardGo(out, th, in, lo, hi)
}

// geluForwardGo is geluForward in plain Go, the reference of the AVX2
// version and its tail.
func geluForwardGo(out, th, in []float32, lo, hi int) {
	x := in[lo:hi]
	o := out[lo:hi]
	o = o[:len(x)]
	t := th[lo:hi]
	t = t[:len(x)]
	for i, v := range x {
		h := tanhRational(geluK * (v + geluA*v*v*v))
		t[i] = h
		o[i] = 0.5 * v * (1 + h)
	}
}

// geluBackward adds the gradient of elements [lo, hi) to dIn, or with set
// writes it.
//
//	dIn, dOut, in, th: (N)
func geluBackward(dIn, dOut, in, th []float32, lo, hi int, set bool) {
	if useAVX2 {
		n8 := (hi - lo) &^ 7
		if n8 > 0 {
			_, _, _, _ = dIn[lo+n8-1], dOut[lo+n8-1], in[lo+n8-1], th[lo+n8-1]
			acc := 1
			if set {
				acc = 0
			}
			geluBackwardAVX2(&dIn[lo], &dOut[lo], &in[lo], &th[lo], n8, acc)
		}
		lo += n8
	}
	geluBackwardGo(dIn, dOut, in, th, lo, hi, set)
}

// geluBackwardGo is geluBackward in plain Go.
func geluBackwardGo(dIn, dOut, in, th []float32, lo, hi int, set bool) {
	x := in[lo:hi]
	d := dOut[lo:hi]
	d = d[:len(x)]
	t := th[lo:hi]
	t = t[:len(x)]
	di := dIn[lo:hi]
	di = di[:len(x)]
	for i, v := range x {
		h := t[i]
		g := 0.5*(1+h) + 0.5*v*(1-h*h)*geluK*(1+3*geluA*v*v)
		if set {
			di[i] = g * d[i]
		} else {
			di[i] += g * d[i]
		}
	}
}

// elemChunk is the granularity of parallel elementwise loops: a multiple
// of the SIMD width, so the same elements take the same (SIMD or scalar)
// path whatever the split.
const elemChunk = 256

func elemChunks(n int) int { return (n + elemChunk - 1) / elemChunk }

type geluForwardJob struct {
	out, th, in []float32
	n           int
}

func (j *geluForwardJob) run(lo, hi int) {
	geluForward(j.out, j.th, j.in, lo*elemChunk, min(hi*elemChunk, j.n))
}

type geluBackwardJob struct {
	dIn, dOut, in, th []float32
	n                 int
	set               bool
}

func (j *geluBackwardJob) run(lo, hi int) {
	geluBackward(j.dIn, j.dOut, j.in, j.th, lo*elemChunk, min(hi*elemChunk, j.n), j.set)
}

// geluForward runs geluForward over n elements in parallel.
func (k *kern) geluForward(out, th, in []float32, n int) {
	k.geluFwdJob = geluForwardJob{out, th, in, n}
	parallel(elemChunks(n), 16, &k.geluFwdJob)
}

// geluBackward runs geluBackward over n elements in parallel.
func (k *kern) geluBackward(dIn, dOut, in, th []float32, n int, set bool) {
	k.geluBwdJob = geluBackwardJob{dIn, dOut, in, th, n, set}
	parallel(elemChunks(n), 16, &k.geluBwdJob)
}
