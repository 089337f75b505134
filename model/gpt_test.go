package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// tinyGPT is a configuration small enough for finite differences over
// every parameter.
func tinyGPT(bias bool, dropout float32) GPTConfig {
	return GPTConfig{VocabSize: 7, BlockSize: 6, NLayer: 2, NHead: 2, NEmbd: 8, Dropout: dropout, Bias: bias, MaxBatch: 3, Seed: 5}
}

// randomBatch draws a batch of b rows of t tokens; every third target is
// ignored when ignore is set.
func randomBatch(rng *rand.Rand, b, t, vocab int, ignore bool) *Batch {
	x := &Batch{B: b, T: t, Tokens: make([]int32, b*t), Targets: make([]int32, b*t), Seeds: make([]uint64, b)}
	for i := range x.Tokens {
		x.Tokens[i] = int32(rng.IntN(vocab))
		x.Targets[i] = int32(rng.IntN(vocab))
		if ignore && i%3 == 1 {
			x.Targets[i] = -1
		}
	}
	for i := range x.Seeds {
		x.Seeds[i] = rng.Uint64()
	}
	return x
}

func TestGPTGrad(t *testing.T) {
	for _, tc := range []struct {
		bias    bool
		dropout float32
		ignore  bool
	}{
		{bias: true}, {bias: false}, {bias: true, ignore: true}, {bias: false, dropout: 0.2, ignore: true},
	} {
		t.Run(fmt.Sprintf("bias=%v,dropout=%g,ignore=%v", tc.bias, tc.dropout, tc.ignore), func(t *testing.T) {
			g, err := NewGPT(tinyGPT(tc.bias, tc.dropout))
			if err != nil {
				t.Fatal(err)
			}
			a := g.Arena()
			// Larger weights than the 0.02 init, so that every path matters.
			rng := rand.New(rand.NewPCG(1, 1))
			for i := range a.Params {
				a.Params[i] += float32(rng.NormFloat64() * 0.3)
			}
			b := randomBatch(rng, 2, 5, 7, tc.ignore) // T < BlockSize on purpose
			train := tc.dropout > 0
			a.ZeroGrad()
			g.Forward(b, train)
			g.Backward(1)
			loss := func() float64 {
				s, _ := g.Forward(b, train)
				return s
			}
			fdStep = 2e-3
			defer func() { fdStep = 1e-2 }()
			for _, ten := range a.Tensors {
				p, d := a.Lookup(ten.Name)
				checkGrad(t, ten.Name, p, slices.Clone(d), loss, 3e-3, 1e-2)
			}
		})
	}
}

// TestGPTGradGo runs the gradient check with the plain Go kernels, as on a
// CPU without AVX2.
func TestGPTGradGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("the Go kernels already ran in TestGPTGrad")
	}
	avx512 := useAVX512
	useAVX2, useAVX512 = false, false
	defer func() { useAVX2, useAVX512 = true, avx512 }()
	g, err := NewGPT(tinyGPT(true, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	a := g.Arena()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range a.Params {
		a.Params[i] += float32(rng.NormFloat64() * 0.3)
	}
	b := randomBatch(rng, 2, 6, 7, true)
	a.ZeroGrad()
	g.Forward(b, true)
	g.Backward(1)
	loss := func() float64 {
		s, _ := g.Forward(b, true)
		return s
	}
	fdStep = 2e-3
	defer func() { fdStep = 1e-2 }()
	for _, ten := range a.Tensors {
		p, d := a.Lookup(ten.Name)
		checkGrad(t, ten.Name, p, slices.Clone(d), loss, 3e-3, 1e-2)
	}
}

func TestGPTDeterministic(t *testing.T) {
	cfg := tinyGPT(true, 0.1)
	run := func(threads int) (params, grads []float32, losses []float64) {
		SetThreads(threads)
		defer SetThreads(1)
		g, err := NewGPT(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		a := g.Arena()
		params = slices.Clone(a.Params)
		for range 3 {
			b := randomBatch(rng, 3, 6, 7, true)
			a.ZeroGrad()
			l, n := g.Forward(b, true)
			g.Backward(1 / float32(n))
			losses = append(losses, l)
			for i := range a.Params { // a crude SGD step so the trajectory matters
				a.Params[i] -= 0.1 * a.Grads[i]
			}
		}
		return params, slices.Clone(a.Grads), losses
	}
	p1, g1, l1 := run(1)
	p1b, g1b, l1b := run(1)
	p2, g2, l2 := run(2)
	for _, c := range []struct {
		name string
		p, g []float32
		l    []float64
	}{{"same thread count", p1b, g1b, l1b}, {"2 threads", p2, g2, l2}} {
		if !slices.Equal(p1, c.p) {
			t.Errorf("%s: initial params differ bitwise", c.name)
		}
		if !slices.Equal(l1, c.l) {
			t.Errorf("%s: losses = %v; want %v", c.name, c.l, l1)
		}
		if !slices.Equal(g1, c.g) {
			t.Errorf("%s: gradients differ bitwise", c.name)
		}
	}
}

func TestGPTInit(t *testing.T) {
	cfg := DefaultGPTConfig()
	g, err := NewGPT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := g.Arena()
	if got, want := a.NumParams(), 804096; got != want {
		t.Errorf("NumParams() = %d; want %d (nanoGPT baby, bias=False)", got, want)
	}
	std := func(x []float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		return mathSqrt(s / float64(len(x)))
	}
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"transformer.wte.weight", 0.02},
		{"transformer.h.0.attn.c_attn.weight", 0.02},
		{"transformer.h.0.attn.c_proj.weight", 0.02 / mathSqrt(8)},
		{"transformer.h.3.mlp.c_proj.weight", 0.02 / mathSqrt(8)},
		{"transformer.ln_f.weight", 1},
	} {
		p, _ := a.Lookup(tc.name)
		if got := std(p); got < tc.want*0.95 || got > tc.want*1.05 {
			t.Errorf("rms(%s) = %.5f; want %.5f", tc.name, got, tc.want)
		}
	}
	if _, ok := a.Tensor("transformer.ln_f.bias"); ok {
		t.Errorf("Tensor(transformer.ln_f.bias) exists with Bias false")
	}
}

func TestGPTConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*GPTConfig)
		ok   bool
	}{
		{"default", func(*GPTConfig) {}, true},
		{"heads do not divide", func(c *GPTConfig) { c.NHead = 3 }, false},
		{"no vocab", func(c *GPTConfig) { c.VocabSize = 0 }, false},
		{"dropout 1", func(c *GPTConfig) { c.Dropout = 1 }, false},
		{"no batch", func(c *GPTConfig) { c.MaxBatch = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultGPTConfig()
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v; want ok %v", err, tc.ok)
			}
		})
	}
}

func TestFLOPsPerToken(t *testing.T) {
	// nanoGPT: 6·N (N = 795904 without wpe) + 12·4·128·64.
	if got, want := FLOPsPerToken(DefaultGPTConfig()), 5168640.0; got != want {
		t.Errorf("FLOPsPerToken(baby) = %g; want %g", got, want)
	}
}

func TestGPTAllocs(t *testing.T) {
	for _, drop := range []float32{0, 0.1} {
		t.Run(fmt.Sprintf("dropout=%g", drop), func(t *testing.T) {
			for _, threads := range []int{1, 2} {
				SetThreads(threads)
				cfg := tinyGPT(true, drop)
				g, err := NewGPT(cfg)
				if err != nil {
					t.Fatal(err)
				}
				b := randomBatch(rand.New(rand.NewPCG(3, 3)), 3, 6, 7, true)
				step := func() {
					g.Arena().ZeroGrad()
					g.Forward(b, true)
					g.Backward(1)
				}
				step()
				if n := testing.AllocsPerRun(5, step); n != 0 {
					t.Errorf("threads %d: allocations per step = %g; want 0", threads, n)
				}
			}
			SetThreads(1)
		})
	}
}

// greedyNoCache is nanoGPT's generate at temperature 0: the whole cropped
// context through Forward for every token.
func greedyNoCache(g *GPT, prompt []int32, maxNew int) []int32 {
	seq := slices.Clone(prompt)
	T, V := g.cfg.BlockSize, g.cfg.VocabSize
	for range maxNew {
		ctx := seq
		if len(ctx) > T {
			ctx = ctx[len(ctx)-T:]
		}
		tg := make([]int32, len(ctx))
		for i := range tg {
			tg[i] = -1
		}
		g.Forward(&Batch{B: 1, T: len(ctx), Tokens: ctx, Targets: tg}, false)
		var dst [1]int32
		argmaxRows(dst[:], g.logits[(len(ctx)-1)*V:], 1, V)
		seq = append(seq, dst[0])
	}
	return seq
}

func TestGenerateKVCache(t *testing.T) {
	for _, bias := range []bool{true, false} {
		cfg := GPTConfig{VocabSize: 11, BlockSize: 8, NLayer: 2, NHead: 2, NEmbd: 16, Bias: bias, MaxBatch: 1, Seed: 9}
		g, err := NewGPT(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(4, 4))
		for i := range g.arena.Params { // a sharper model than the init, so ties are unlikely
			g.arena.Params[i] += float32(rng.NormFloat64() * 0.5)
		}
		for _, prompt := range [][]int32{{3}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}} {
			got := g.Generate(prompt, 12, Sampling{}, nil)
			want := greedyNoCache(g, prompt, 12)
			if !slices.Equal(got, want) {
				t.Errorf("bias %v: Generate(%v) = %v; want %v (no cache)", bias, prompt, got, want)
			}
		}
	}
}

func TestGenerateLogitsMatchForward(t *testing.T) {
	cfg := GPTConfig{VocabSize: 11, BlockSize: 8, NLayer: 2, NHead: 2, NEmbd: 16, Bias: true, MaxBatch: 1, Seed: 9}
	g, err := NewGPT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	toks := []int32{1, 5, 2, 7, 3, 3, 0, 10}
	tg := make([]int32, len(toks))
	g.Forward(&Batch{B: 1, T: len(toks), Tokens: toks, Targets: tg}, false)
	want := slices.Clone(g.Logits())
	g.dec = newDecoder(cfg)
	for pos, tok := range toks {
		g.step(tok, pos)
		for v := range cfg.VocabSize {
			w := want[pos*cfg.VocabSize+v]
			if d := g.dec.logits[v] - w; d > 1e-5 || d < -1e-5 {
				t.Fatalf("KV-cache logit[%d][%d] = %g; want %g (Forward)", pos, v, g.dec.logits[v], w)
			}
		}
	}
}

func TestGenerateSampling(t *testing.T) {
	g, err := NewGPT(GPTConfig{VocabSize: 11, BlockSize: 8, NLayer: 1, NHead: 1, NEmbd: 8, MaxBatch: 1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	a := g.Generate([]int32{1}, 20, Sampling{Temperature: 1, TopK: 3}, rand.New(rand.NewPCG(1, 2)))
	b := g.Generate([]int32{1}, 20, Sampling{Temperature: 1, TopK: 3}, rand.New(rand.NewPCG(1, 2)))
	if !slices.Equal(a, b) {
		t.Errorf("Generate with the same rng seed = %v and %v; want equal", a, b)
	}
	if len(a) != 21 {
		t.Errorf("len(Generate(1 token, 20 new)) = %d; want 21", len(a))
	}
	// TopK 1 is greedy.
	c := g.Generate([]int32{1}, 20, Sampling{Temperature: 0.7, TopK: 1}, rand.New(rand.NewPCG(5, 6)))
	d := g.Generate([]int32{1}, 20, Sampling{}, nil)
	if !slices.Equal(c, d) {
		t.Errorf("Generate TopK 1 = %v; want greedy %v", c, d)
	}
}

// TestGPTThreadsBitwise runs shapes large enough for gemm to split its
// multiplies over threads: 1 and 2 threads must still agree bitwise.
func TestGPTThreadsBitwise(t *testing.T) {
	cfg := DefaultGPTConfig()
	cfg.MaxBatch = 3
	cfg.Dropout = 0.1
	run := func(threads int) ([]float32, float64) {
		SetThreads(threads)
		defer SetThreads(1)
		g, err := NewGPT(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := randomBatch(rand.New(rand.NewPCG(6, 6)), 3, cfg.BlockSize, cfg.VocabSize, true)
		l, n := g.Forward(b, true)
		g.Backward(1 / float32(n))
		return g.Arena().Grads, l
	}
	g1, l1 := run(1)
	g2, l2 := run(2)
	if l1 != l2 {
		t.Errorf("loss with 2 threads = %v; want %v (1 thread), bitwise", l2, l1)
	}
	diff := 0
	for i := range g1 {
		if g1[i] != g2[i] {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d gradients differ between 1 and 2 threads; want bitwise equal", diff, len(g1))
	}
}

// TestGPTConcurrentModels: models in different goroutines share the pool
// (as the workers of a local cluster do) and still get their own results.
func TestGPTConcurrentModels(t *testing.T) {
	SetThreads(2)
	defer SetThreads(1)
	cfg := tinyGPT(true, 0.1)
	step := func(g *GPT, seed uint64) ([]float32, float64) {
		b := randomBatch(rand.New(rand.NewPCG(seed, seed)), 3, 6, 7, true)
		g.Arena().ZeroGrad()
		l, _ := g.Forward(b, true)
		g.Backward(1)
		return slices.Clone(g.Arena().Grads), l
	}
	want := make([][]float32, 4)
	for i := range want {
		g, _ := NewGPT(cfg)
		want[i], _ = step(g, uint64(i))
	}
	done := make(chan error, len(want))
	for i := range want {
		go func() {
			g, _ := NewGPT(cfg)
			for range 5 {
				if got, _ := step(g, uint64(i)); !slices.Equal(got, want[i]) {
					done <- fmt.Errorf("model %d: gradients differ from its run alone", i)
					return
				}
			}
			done <- nil
		}()
	}
	for range want {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
