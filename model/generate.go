package model

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses how Generate picks each token.
type Sampling struct {
	Temperature float32 // divides the logits; 0 = greedy (argmax)
	TopK        int     // sample among the TopK most likely tokens only; 0 = all
}

// decoder is the KV cache of one sequence: per layer the keys and values
// of every position so far, so each new token costs one position.
type decoder struct {
	k, v                   [][]float32 // per layer (BlockSize, C)
	x, ln, atty, proj      []float32   // (C)
	qkv                    []float32   // (3C)
	fch, fchGrad           []float32   // (4C)
	att                    []float32   // (BlockSize)
	logits, probs, scratch []float32   // (V)
	mean, rstd             []float32   // (1)
	targets                []int32     // (BlockSize), all -1: the window forward
	tok                    [1]int32
}

func newDecoder(c GPTConfig) *decoder {
	C, T := c.NEmbd, c.BlockSize
	f := func(k int) []float32 { return make([]float32, k) }
	d := &decoder{
		x: f(C), ln: f(C), atty: f(C), proj: f(C), qkv: f(3 * C),
		fch: f(4 * C), fchGrad: f(4 * C), att: f(T),
		logits: f(c.VocabSize), probs: f(c.VocabSize), scratch: f(c.VocabSize),
		mean: f(1), rstd: f(1), targets: make([]int32, T),
	}
	for i := range d.targets {
		d.targets[i] = -1
	}
	for range c.NLayer {
		d.k = append(d.k, f(T*C))
		d.v = append(d.v, f(T*C))
	}
	return d
}

// step runs token tok at position pos (< BlockSize) through the network,
// attending to the cached positions 0..pos-1 and caching its own keys and
// values; it leaves the next-token logits in d.logits.
func (g *GPT) step(tok int32, pos int) {
	d, c := g.dec, g.cfg
	C, NH := c.NEmbd, c.NHead
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	d.tok[0] = tok
	encoderForward(d.x, d.tok[:], g.wte, g.wpe[pos*C:], 1, 1, C)
	for l := range g.layers {
		L := &g.layers[l]
		layerNormForward(d.ln, d.mean, d.rstd, d.x, L.ln1W, L.ln1B, C, 0, 1)
		linearForwardVec(d.qkv, d.ln, L.attnW, L.attnB, C, 3*C)
		kc, vc := d.k[l], d.v[l]
		copy(kc[pos*C:pos*C+C], d.qkv[C:2*C])
		copy(vc[pos*C:pos*C+C], d.qkv[2*C:3*C])
		for h := 0; h < NH; h++ {
			q := d.qkv[h*hs : h*hs+hs]
			a := d.att[:pos+1]
			for j := range a {
				kj := kc[j*C+h*hs : j*C+h*hs+hs]
				var s float32
				for i, x := range q {
					s += x * kj[i]
				}
				a[j] = s * scale
			}
			softmaxCausalRow(d.att, pos+1) // the whole row, as Forward does
			y := d.atty[h*hs : h*hs+hs]
			clear(y)
			for j, w := range a {
				vj := vc[j*C+h*hs : j*C+h*hs+hs]
				for i, x := range vj {
					y[i] += w * x
				}
			}
		}
		linearForwardVec(d.proj, d.atty, L.projW, L.projB, C, C)
		residualForward(d.x, d.x, d.proj, nil, 0, C)
		layerNormForward(d.ln, d.mean, d.rstd, d.x, L.ln2W, L.ln2B, C, 0, 1)
		linearForwardVec(d.fch, d.ln, L.fcW, L.fcB, C, 4*C)
		geluForward(d.fch, d.fchGrad, d.fch, 0, 4*C)
		linearForwardVec(d.proj, d.fch, L.fcprojW, L.fcprojB, 4*C, C)
		residualForward(d.x, d.x, d.proj, nil, 0, C)
	}
	layerNormForward(d.ln, d.mean, d.rstd, d.x, g.lnfW, g.lnfB, C, 0, 1)
	linearForwardVec(d.logits, d.ln, g.wte, nil, C, c.VocabSize)
}

// window runs the whole window (len ≤ BlockSize) through Forward, without
// cache, and leaves the last position's logits in d.logits.
func (g *GPT) window(toks []int32) {
	d, V := g.dec, g.cfg.VocabSize
	b := Batch{B: 1, T: len(toks), Tokens: toks, Targets: d.targets[:len(toks)]}
	g.Forward(&b, false)
	copy(d.logits, g.logits[(len(toks)-1)*V:len(toks)*V])
}

// Generate continues prompt (at least one token) by maxNew tokens and
// returns the whole sequence, prompt included, as nanoGPT's generate does.
// Each new token costs one position thanks to a KV cache; once the
// sequence outgrows BlockSize the context is cropped to its last BlockSize
// tokens, as nanoGPT crops it, and each further token recomputes that
// window with Forward (which overwrites the activations of the last
// Forward). Temperature 0 picks the most likely token; otherwise the logits
// are divided by Temperature, cut to the TopK largest if TopK > 0, and
// sampled with rng (which must not be nil then).
func (g *GPT) Generate(prompt []int32, maxNew int, s Sampling, rng *rand.Rand) []int32 {
	if len(prompt) == 0 {
		panic("model: Generate needs a prompt")
	}
	if s.Temperature < 0 || (s.Temperature > 0 && rng == nil) {
		panic("model: Generate needs a non-negative Temperature and, above 0, an rng")
	}
	for _, t := range prompt {
		if t < 0 || int(t) >= g.cfg.VocabSize {
			panic("model: Generate: token out of range")
		}
	}
	if g.dec == nil {
		g.dec = newDecoder(g.cfg)
	}
	T := g.cfg.BlockSize
	seq := make([]int32, len(prompt), len(prompt)+maxNew)
	copy(seq, prompt)
	ctx := seq
	if len(ctx) > T {
		ctx = ctx[len(ctx)-T:]
	}
	for pos, tok := range ctx {
		g.step(tok, pos)
	}
	pos := len(ctx)
	for i := 0; i < maxNew; i++ {
		next := g.sample(s, rng)
		seq = append(seq, next)
		if i == maxNew-1 {
			break
		}
		if pos < T {
			g.step(next, pos)
			pos++
		} else {
			g.window(seq[len(seq)-T:])
		}
	}
	return seq
}

// sample picks a token from g.dec.logits.
func (g *GPT) sample(s Sampling, rng *rand.Rand) int32 {
	d := g.dec
	if s.Temperature == 0 {
		var dst [1]int32
		argmaxRows(dst[:], d.logits, 1, len(d.logits))
		return dst[0]
	}
	p := d.probs
	for i, z := range d.logits {
		p[i] = z / s.Temperature
	}
	if s.TopK > 0 && s.TopK < len(p) {
		copy(d.scratch, p)
		slices.Sort(d.scratch)
		kth := d.scratch[len(p)-s.TopK]
		for i, z := range p {
			if z < kth {
				p[i] = float32(math.Inf(-1))
			}
		}
	}
	m := slices.Max(p)
	var sum float64
	for i, z := range p {
		e := float32(math.Exp(float64(z - m)))
		p[i] = e
		sum += float64(e)
	}
	u := rng.Float64() * sum
	for i, e := range p {
		u -= float64(e)
		if u < 0 {
			return int32(i)
		}
	}
	// rounding left u ≥ 0: the last token with any mass
	for i := len(p) - 1; i > 0; i-- {
		if p[i] > 0 {
			return int32(i)
		}
	}
	return 0
}
