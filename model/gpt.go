package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// GPTConfig sizes a GPT, as nanoGPT's GPTConfig.
type GPTConfig struct {
	VocabSize int     // tokens in the vocabulary
	BlockSize int     // longest context, positions
	NLayer    int     // transformer blocks
	NHead     int     // attention heads per block; must divide NEmbd
	NEmbd     int     // embedding width C
	Dropout   float32 // probability, applied in training only; 0 = off
	Bias      bool    // biases in the Linears and LayerNorms (nanoGPT's bias)
	MaxBatch  int     // most rows per Forward; activations are allocated for MaxBatch×BlockSize
	Seed      uint64  // initialisation seed
}

// DefaultGPTConfig returns nanoGPT's CPU "baby" Shakespeare configuration:
// 4 layers, 4 heads, 128 wide, context 64, batch 12, a 65-character
// vocabulary, no dropout, no bias.
func DefaultGPTConfig() GPTConfig {
	return GPTConfig{VocabSize: 65, BlockSize: 64, NLayer: 4, NHead: 4, NEmbd: 128, MaxBatch: 12, Seed: 1337}
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c GPTConfig) Validate() error {
	switch {
	case c.VocabSize < 1:
		return fmt.Errorf("%w: VocabSize %d < 1", ErrConfig, c.VocabSize)
	case c.BlockSize < 1:
		return fmt.Errorf("%w: BlockSize %d < 1", ErrConfig, c.BlockSize)
	case c.NLayer < 1:
		return fmt.Errorf("%w: NLayer %d < 1", ErrConfig, c.NLayer)
	case c.NHead < 1:
		return fmt.Errorf("%w: NHead %d < 1", ErrConfig, c.NHead)
	case c.NEmbd < 1 || c.NEmbd%c.NHead != 0:
		return fmt.Errorf("%w: NEmbd %d is not a positive multiple of NHead %d", ErrConfig, c.NEmbd, c.NHead)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("%w: Dropout %g not in [0, 1)", ErrConfig, c.Dropout)
	case c.MaxBatch < 1:
		return fmt.Errorf("%w: MaxBatch %d < 1", ErrConfig, c.MaxBatch)
	}
	return nil
}

// gptTensors lists a GPT's tensors in nanoGPT's state_dict order.
func gptTensors(c GPTConfig) []Tensor {
	C := c.NEmbd
	ts := []Tensor{
		{Name: "transformer.wte.weight", Shape: []int{c.VocabSize, C}},
		{Name: "transformer.wpe.weight", Shape: []int{c.BlockSize, C}},
	}
	add := func(name string, shape ...int) { ts = append(ts, Tensor{Name: name, Shape: shape}) }
	linear := func(name string, out, in int) {
		add(name+".weight", out, in)
		if c.Bias {
			add(name+".bias", out)
		}
	}
	norm := func(name string) {
		add(name+".weight", C)
		if c.Bias {
			add(name+".bias", C)
		}
	}
	for l := 0; l < c.NLayer; l++ {
		p := "transformer.h." + strconv.Itoa(l)
		norm(p + ".ln_1")
		linear(p+".attn.c_attn", 3*C, C)
		linear(p+".attn.c_proj", C, C)
		norm(p + ".ln_2")
		linear(p+".mlp.c_fc", 4*C, C)
		linear(p+".mlp.c_proj", C, 4*C)
	}
	norm("transformer.ln_f")
	return ts
}

// gptLayer is one transformer block: views of its parameters and
// gradients, and its activations.
type gptLayer struct {
	ln1W, ln1B, attnW, attnB, projW, projB       []float32
	ln2W, ln2B, fcW, fcB, fcprojW, fcprojB       []float32
	dln1W, dln1B, dattnW, dattnB, dprojW, dprojB []float32
	dln2W, dln2B, dfcW, dfcB, dfcprojW, dfcprojB []float32

	ln1, ln1Mean, ln1Rstd []float32 // (B,T,C), (B,T), (B,T)
	qkv                   []float32 // (B,T,3C)
	att, attd             []float32 // (B,NH,T,T): softmax, after dropout
	atty, attproj, res2   []float32 // (B,T,C); attproj only with dropout
	ln2, ln2Mean, ln2Rstd []float32
	fch, fchGrad          []float32 // (B,T,4C): c_fc's output, then GELU of it in place; GELU' there
	fcproj, res3          []float32 // (B,T,C); fcproj only with dropout

	attMask, projMask, fcMask []float32 // dropout masks; nil without dropout
}

// GPT is the GPT-2 architecture as nanoGPT builds it: token and learned
// position embeddings, pre-LayerNorm blocks x = x + attn(ln_1(x)),
// x = x + mlp(ln_2(x)) with a 4x MLP and tanh GELU, a final LayerNorm and
// an output head tied to the token embedding.
type GPT struct {
	cfg   GPTConfig
	arena *Arena
	k     kern

	wte, wpe, lnfW, lnfB     []float32
	dwte, dwpe, dlnfW, dlnfB []float32
	layers                   []gptLayer

	// activations, for MaxBatch×BlockSize positions
	tokens, targets       []int32   // (B,T)
	encoded, x0, embMask  []float32 // (B,T,C); x0 and embMask only with dropout
	lnf, lnfMean, lnfRstd []float32
	logits, probs         []float32 // (B,T,V), (B,T,padRow(V))
	losses                []float64 // (B,T)

	// activation gradients, shared by the layers
	dres, dln, dtmp, datty []float32 // (B,T,C)
	dqkv                   []float32 // (B,T,3C)
	dfch                   []float32 // (B,T,4C)
	datt                   []float32 // (B,NH,T,T)
	dlogits                []float32 // (B,T,V)

	b, t    int  // shape of the last Forward
	dropped bool // the last Forward applied dropout

	dec *decoder // Generate's KV cache, made on first use

	hook   func(lo, hi int) // SetGradHook
	hookLo []int            // where each block starts in the arena
}

// NewGPT builds a GPT with nanoGPT's initialisation drawn from cfg.Seed:
// every weight normal(0, 0.02) except the residual projections
// (attn.c_proj, mlp.c_proj) normal(0, 0.02/√(2·NLayer)); biases 0;
// LayerNorm weights 1. The draws come from a math/rand/v2 PCG in arena
// order, so the same seed gives bitwise the same parameters.
func NewGPT(cfg GPTConfig) (*GPT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &GPT{cfg: cfg, arena: newArena(gptTensors(cfg))}
	g.initParams()
	g.bind()
	g.alloc()
	return g, nil
}

// Config returns the configuration g was built with.
func (g *GPT) Config() GPTConfig { return g.cfg }

// Arena returns g's parameters and gradients.
func (g *GPT) Arena() *Arena { return g.arena }

func (g *GPT) initParams() {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, 0x6372616674)) // "craft"
	projStd := 0.02 / math.Sqrt(2*float64(g.cfg.NLayer))
	for _, t := range g.arena.Tensors {
		p, _ := g.arena.Lookup(t.Name)
		switch {
		case hasSuffix(t.Name, "ln_1.weight"), hasSuffix(t.Name, "ln_2.weight"), hasSuffix(t.Name, "ln_f.weight"):
			for i := range p {
				p[i] = 1
			}
		case hasSuffix(t.Name, ".bias"):
			clear(p)
		default:
			std := 0.02
			if hasSuffix(t.Name, "c_proj.weight") {
				std = projStd
			}
			for i := range p {
				p[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// bind points the parameter views into the arena.
func (g *GPT) bind() {
	a := g.arena
	opt := func(name string) (p, d []float32) {
		if !g.cfg.Bias {
			return nil, nil
		}
		return a.mustLookup(name)
	}
	g.wte, g.dwte = a.mustLookup("transformer.wte.weight")
	g.wpe, g.dwpe = a.mustLookup("transformer.wpe.weight")
	g.lnfW, g.dlnfW = a.mustLookup("transformer.ln_f.weight")
	g.lnfB, g.dlnfB = opt("transformer.ln_f.bias")
	g.layers = make([]gptLayer, g.cfg.NLayer)
	for l := range g.layers {
		L := &g.layers[l]
		p := "transformer.h." + strconv.Itoa(l)
		L.ln1W, L.dln1W = a.mustLookup(p + ".ln_1.weight")
		L.ln1B, L.dln1B = opt(p + ".ln_1.bias")
		L.attnW, L.dattnW = a.mustLookup(p + ".attn.c_attn.weight")
		L.attnB, L.dattnB = opt(p + ".attn.c_attn.bias")
		L.projW, L.dprojW = a.mustLookup(p + ".attn.c_proj.weight")
		L.projB, L.dprojB = opt(p + ".attn.c_proj.bias")
		L.ln2W, L.dln2W = a.mustLookup(p + ".ln_2.weight")
		L.ln2B, L.dln2B = opt(p + ".ln_2.bias")
		L.fcW, L.dfcW = a.mustLookup(p + ".mlp.c_fc.weight")
		L.fcB, L.dfcB = opt(p + ".mlp.c_fc.bias")
		L.fcprojW, L.dfcprojW = a.mustLookup(p + ".mlp.c_proj.weight")
		L.fcprojB, L.dfcprojB = opt(p + ".mlp.c_proj.bias")
	}
}

// alloc allocates the activations for MaxBatch×BlockSize positions.
func (g *GPT) alloc() {
	c := g.cfg
	n := c.MaxBatch * c.BlockSize
	C, V := c.NEmbd, c.VocabSize
	att := c.MaxBatch * c.NHead * c.BlockSize * c.BlockSize
	f := func(k int) []float32 { return make([]float32, k) }
	drop := c.Dropout > 0
	g.tokens, g.targets = make([]int32, n), make([]int32, n)
	g.encoded = f(n * C)
	if drop {
		g.x0, g.embMask = f(n*C), f(n*C)
	}
	g.lnf, g.lnfMean, g.lnfRstd = f(n*C), f(n), f(n)
	g.logits, g.probs, g.losses = f(n*V), f(n*padRow(V)), make([]float64, n)
	for l := range g.layers {
		L := &g.layers[l]
		L.ln1, L.ln1Mean, L.ln1Rstd = f(n*C), f(n), f(n)
		L.qkv = f(n * 3 * C)
		L.att = f(att)
		L.atty, L.res2 = f(n*C), f(n*C)
		L.ln2, L.ln2Mean, L.ln2Rstd = f(n*C), f(n), f(n)
		L.fch, L.fchGrad = f(n*4*C), f(n*4*C)
		L.res3 = f(n * C)
		if drop {
			L.attd, L.attMask = f(att), f(att)
			L.projMask, L.fcMask = f(n*C), f(n*C)
			L.attproj, L.fcproj = f(n*C), f(n*C) // without dropout the projections add straight into the stream
		}
	}
	g.dres, g.dln, g.dtmp, g.datty = f(n*C), f(n*C), f(n*C), f(n*C)
	g.dqkv = f(n * 3 * C)
	g.dfch = f(n * 4 * C)
	g.datt = f(att)
	g.dlogits = f(n * V)
}

// Forward runs the batch (B rows of T ≤ BlockSize tokens, B ≤ MaxBatch)
// and returns the sum of the cross-entropy over the targets that are not
// -1 and their count. With train and Dropout > 0 it applies dropout where
// nanoGPT does (after the embeddings, on the attention weights, on both
// residual projections), seeded by b.Seeds. It panics on a batch that does
// not fit.
func (g *GPT) Forward(b *Batch, train bool) (lossSum float64, count int) {
	c := g.cfg
	B, T, C, V, NH := b.B, b.T, c.NEmbd, c.VocabSize, c.NHead
	N := B * T
	if B < 1 || B > c.MaxBatch || T < 1 || T > c.BlockSize || len(b.Tokens) != N || len(b.Targets) != N {
		panic(fmt.Sprintf("model: GPT.Forward: batch %dx%d with %d tokens, %d targets does not fit MaxBatch %d, BlockSize %d",
			B, T, len(b.Tokens), len(b.Targets), c.MaxBatch, c.BlockSize))
	}
	drop := train && c.Dropout > 0
	if drop && len(b.Seeds) != B {
		panic(fmt.Sprintf("model: GPT.Forward: %d seeds for %d rows", len(b.Seeds), B))
	}
	g.b, g.t, g.dropped = B, T, drop
	copy(g.tokens, b.Tokens)
	copy(g.targets, b.Targets)
	k := &g.k
	p := c.Dropout

	encoderForward(g.encoded, g.tokens[:N], g.wte, g.wpe, B, T, C)
	x := g.encoded
	if drop {
		k.dropoutMasks(g.embMask, b.Seeds, p, B, T*C, dropoutSite(0, siteEmbed))
		k.residualForward(g.x0, nil, g.encoded, g.embMask, N*C)
		x = g.x0
	}
	for l := range g.layers {
		L := &g.layers[l]
		var am, pm, fm []float32
		if drop {
			am, pm, fm = L.attMask, L.projMask, L.fcMask
			k.dropoutMasks(am, b.Seeds, p, B, NH*T*T, dropoutSite(l, siteAttn))
			k.dropoutMasks(pm, b.Seeds, p, B, T*C, dropoutSite(l, siteAttnProj))
			k.dropoutMasks(fm, b.Seeds, p, B, T*C, dropoutSite(l, siteMLPProj))
		}
		k.layerNormForward(L.ln1, L.ln1Mean, L.ln1Rstd, x, L.ln1W, L.ln1B, N, C)
		linearForward(L.qkv, L.ln1, L.attnW, L.attnB, N, C, 3*C)
		k.attentionForward(L.atty, L.att, L.attd, L.qkv, am, B, T, C, NH)
		if drop {
			linearForward(L.attproj, L.atty, L.projW, L.projB, N, C, C)
			k.residualForward(L.res2, x, L.attproj, pm, N*C)
		} else {
			linearForwardResidual(L.res2, x, L.atty, L.projW, L.projB, N, C, C)
		}
		k.layerNormForward(L.ln2, L.ln2Mean, L.ln2Rstd, L.res2, L.ln2W, L.ln2B, N, C)
		linearForward(L.fch, L.ln2, L.fcW, L.fcB, N, C, 4*C)
		k.geluForward(L.fch, L.fchGrad, L.fch, N*4*C) // in place: c_fc's output is not needed again
		if drop {
			linearForward(L.fcproj, L.fch, L.fcprojW, L.fcprojB, N, 4*C, C)
			k.residualForward(L.res3, L.res2, L.fcproj, fm, N*C)
		} else {
			linearForwardResidual(L.res3, L.res2, L.fch, L.fcprojW, L.fcprojB, N, 4*C, C)
		}
		x = L.res3
	}
	k.layerNormForward(g.lnf, g.lnfMean, g.lnfRstd, x, g.lnfW, g.lnfB, N, C)
	linearForward(g.logits, g.lnf, g.wte, nil, N, C, V)
	return k.crossEntropy(g.probs, g.losses, g.logits, g.targets, N, V)
}

// Backward adds scale·d(lossSum)/d(params) of the last Forward to the
// arena's gradients.
func (g *GPT) Backward(scale float32) {
	c := g.cfg
	B, T, C, V, NH := g.b, g.t, c.NEmbd, c.VocabSize, c.NHead
	N := B * T
	if N == 0 {
		panic("model: GPT.Backward before Forward")
	}
	k := &g.k

	// Each activation gradient is written (not added to) by its first
	// writer, so none needs clearing; the residual stream's gradient dres
	// is written by ln_f's backward and then accumulated through the blocks.
	k.crossEntropyBackward(g.dlogits, g.probs, g.targets, scale, N, V, true)
	xLast := g.encoded
	if g.dropped {
		xLast = g.x0
	}
	if len(g.layers) > 0 {
		xLast = g.layers[len(g.layers)-1].res3
	}
	k.linearBackwardSet(g.dln, g.dwte, nil, g.dlogits, g.lnf, g.wte, N, C, V)
	k.layerNormBackwardSet(g.dres, g.dlnfW, g.dlnfB, g.dln, xLast, g.lnfMean, g.lnfRstd, g.lnfW, N, C, true)

	for l := len(g.layers) - 1; l >= 0; l-- {
		L := &g.layers[l]
		x := g.encoded
		if l > 0 {
			x = g.layers[l-1].res3
		} else if g.dropped {
			x = g.x0
		}
		var am, pm, fm []float32
		if g.dropped {
			am, pm, fm = L.attMask, L.projMask, L.fcMask
		}
		// res3 = res2 + fcproj⊙fm: the residual's gradient stays in dres
		dproj := g.dres
		if fm != nil {
			k.residualBackwardSet(g.dtmp, g.dres, fm, N*C)
			dproj = g.dtmp
		}
		k.linearBackwardSet(g.dfch, L.dfcprojW, L.dfcprojB, dproj, L.fch, L.fcprojW, N, 4*C, C)
		k.geluBackward(g.dfch, g.dfch, L.fchGrad, N*4*C, true) // in place
		k.linearBackwardSet(g.dln, L.dfcW, L.dfcB, g.dfch, L.ln2, L.fcW, N, C, 4*C)
		k.layerNormBackward(g.dres, L.dln2W, L.dln2B, g.dln, L.res2, L.ln2Mean, L.ln2Rstd, L.ln2W, N, C)
		// res2 = x + attproj⊙pm
		dproj = g.dres
		if pm != nil {
			k.residualBackwardSet(g.dtmp, g.dres, pm, N*C)
			dproj = g.dtmp
		}
		k.linearBackwardSet(g.datty, L.dprojW, L.dprojB, dproj, L.atty, L.projW, N, C, C)
		k.attentionBackward(g.dqkv, g.datt, g.datty, L.qkv, L.att, L.attd, am, B, T, C, NH, 0)
		k.linearBackwardSet(g.dln, L.dattnW, L.dattnB, g.dqkv, L.ln1, L.attnW, N, C, 3*C)
		k.layerNormBackward(g.dres, L.dln1W, L.dln1B, g.dln, x, L.ln1Mean, L.ln1Rstd, L.ln1W, N, C)
		g.gradsDone(l)
	}
	dEnc := g.dres
	if g.dropped {
		k.residualBackwardSet(g.dtmp, g.dres, g.embMask, N*C)
		dEnc = g.dtmp
	}
	k.encoderBackward(g.dwte, g.dwpe, dEnc, g.tokens, B, T, C)
	g.gradsDone(-1)
}

// Predict writes the most likely next token at each position of the last
// Forward into dst (len B·T).
func (g *GPT) Predict(dst []int32) {
	argmaxRows(dst, g.logits, g.b*g.t, g.cfg.VocabSize)
}

// Logits returns the logits of the last Forward, (B,T,V); the slice is
// overwritten by the next Forward.
func (g *GPT) Logits() []float32 { return g.logits[:g.b*g.t*g.cfg.VocabSize] }
