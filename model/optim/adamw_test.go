package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAdamWFirstStep(t *testing.T) {
	// At update 1 the bias-corrected moments are g and g², so the update is
	// lr*g/(|g|+eps), after decay of p by 1-lr*wd in Decay groups.
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.5}
	tests := []struct {
		name  string
		p, g  float32
		lr    float64
		decay bool
		want  float64
	}{
		{"positive grad", 1, 0.5, 0.1, false, 1 - 0.1*0.5/(0.5+1e-8)},
		{"negative grad", 1, -2, 0.1, false, 1 + 0.1*2/(2+1e-8)},
		{"zero grad", 3, 0, 0.1, false, 3},
		{"decay", 2, 0.5, 0.1, true, 2*(1-0.1*0.5) - 0.1*0.5/(0.5+1e-8)},
		{"decay zero grad", 2, 0, 0.01, true, 2 * (1 - 0.01*0.5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewAdamW(cfg, 1, []Group{{Offset: 0, Len: 1, Decay: tt.decay}})
			p := []float32{tt.p}
			o.Step(1, tt.lr, p, []float32{tt.g})
			if math.Abs(float64(p[0])-tt.want) > 1e-6 {
				t.Errorf("Step(1, %v) p = %v; want %v", tt.lr, p[0], tt.want)
			}
		})
	}
}

func TestAdamWMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  AdamWConfig
		n    int
		lr   float64
	}{
		{"nanoGPT defaults", DefaultAdamWConfig(), 203, 1e-3},
		{"torch betas", AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, 64, 1e-2},
		{"big eps", AdamWConfig{Beta1: 0.8, Beta2: 0.99, Eps: 1e-3, WeightDecay: 0.1}, 17, 3e-2},
		{"no momentum", AdamWConfig{Beta1: 0, Beta2: 0.5, Eps: 1e-8, WeightDecay: 1}, 9, 1e-2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			params := randVec(rng, tt.n, 1)
			groups := testGroups(tt.n)
			ref := newRefAdamW(tt.cfg, params, groups)
			o := NewAdamW(tt.cfg, tt.n, groups)
			for step := 1; step <= 20; step++ {
				grads := randVec(rng, tt.n, math.Pow(10, float64(step%5-3)))
				o.Step(step, tt.lr, params, grads)
				ref.step(step, tt.lr, grads)
				for i := range params {
					got, want := float64(params[i]), ref.p[i]
					if d := math.Abs(got - want); d > 1e-6*math.Max(1, math.Abs(want)) {
						t.Fatalf("step %d: p[%d] = %v; want %v (diff %g)", step, i, got, want, d)
					}
				}
			}
		})
	}
}

// TestAdamWStepRangeBitwise checks that updating the arena in pieces,
// with boundaries inside groups and off the 8-element kernel blocks, gives
// bitwise the whole Step.
func TestAdamWStepRangeBitwise(t *testing.T) {
	const n = 301
	rng := rand.New(rand.NewPCG(3, 4))
	groups := testGroups(n)
	whole := NewAdamW(DefaultAdamWConfig(), n, groups)
	parts := NewAdamW(DefaultAdamWConfig(), n, groups)
	p1 := randVec(rng, n, 1)
	p2 := slices.Clone(p1)
	for step := 1; step <= 5; step++ {
		grads := randVec(rng, n, 0.1)
		lr := 1e-2 / float64(step)
		whole.Step(step, lr, p1, grads)
		// Random cut points, applied in a shuffled order.
		cuts := []int{0, n}
		for range 6 {
			cuts = append(cuts, rng.IntN(n+1))
		}
		slices.Sort(cuts)
		order := rng.Perm(len(cuts) - 1)
		for _, k := range order {
			parts.StepRange(step, lr, p2, grads, cuts[k], cuts[k+1])
		}
		for i := range p1 {
			if math.Float32bits(p1[i]) != math.Float32bits(p2[i]) || whole.m[i] != parts.m[i] || whole.v[i] != parts.v[i] {
				t.Fatalf("step %d cuts %v: StepRange p[%d] = %v; Step gave %v", step, cuts, i, p2[i], p1[i])
			}
		}
	}
}

// TestAdamWKernelsBitwise checks the architecture's kernel against the Go
// one on every length up to 70 and awkward values.
func TestAdamWKernelsBitwise(t *testing.T) {
	if !useAVX2 {
		t.Log("no AVX2 kernel on this machine: adamw is adamwGo")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	o := NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, 1, nil)
	for n := 0; n <= 70; n++ {
		p := randVec(rng, n, 1)
		g := randVec(rng, n, 1e-3)
		m := randVec(rng, n, 1e-3)
		v := randVec(rng, n, 1e-6)
		for i := range v {
			v[i] = float32(math.Abs(float64(v[i])))
			switch rng.IntN(6) {
			case 0:
				g[i], m[i], v[i] = 0, 0, 0
			case 1:
				g[i] = 1e30
			case 2:
				g[i] = -1e-30
			}
		}
		p2, m2, v2 := slices.Clone(p), slices.Clone(m), slices.Clone(v)
		for _, step := range []int{1, 2, 1000} {
			k := o.consts(step, 3e-4, 0.1)
			adamw(p, g, m, v, &k)
			adamwGo(p2, g, m2, v2, &k)
			for i := range p {
				if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) || math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
					t.Fatalf("n=%d step %d: adamw p[%d], m, v = %v, %v, %v; adamwGo %v, %v, %v", n, step, i, p[i], m[i], v[i], p2[i], m2[i], v2[i])
				}
			}
		}
	}
}

func TestAdamWStepAllocatesNothing(t *testing.T) {
	const n = 1000
	rng := rand.New(rand.NewPCG(7, 8))
	o := NewAdamW(DefaultAdamWConfig(), n, testGroups(n))
	p, g := randVec(rng, n, 1), randVec(rng, n, 1)
	step := 0
	if a := testing.AllocsPerRun(10, func() { step++; o.Step(step, 1e-3, p, g) }); a != 0 {
		t.Errorf("AllocsPerRun(Step) = %v; want 0", a)
	}
	if a := testing.AllocsPerRun(10, func() { step++; o.StepRange(step, 1e-3, p, g, 13, 901) }); a != 0 {
		t.Errorf("AllocsPerRun(StepRange) = %v; want 0", a)
	}
}

func TestOptimizerPanics(t *testing.T) {
	mk := func() Optimizer { return NewAdamW(DefaultAdamWConfig(), 10, nil) }
	p, g := make([]float32, 10), make([]float32, 10)
	tests := []struct {
		name string
		f    func()
	}{
		{"step 0", func() { mk().Step(0, 1, p, g) }},
		{"short params", func() { mk().Step(1, 1, p[:9], g) }},
		{"short grads", func() { mk().Step(1, 1, p, g[:9]) }},
		{"range past end", func() { mk().StepRange(1, 1, p, g, 5, 11) }},
		{"reversed range", func() { mk().StepRange(1, 1, p, g, 5, 4) }},
		{"negative lo", func() { mk().StepRange(1, 1, p, g, -1, 4) }},
		{"group outside", func() { NewAdamW(DefaultAdamWConfig(), 10, []Group{{Offset: 8, Len: 3}}) }},
		{"groups overlap", func() { NewSGD(DefaultSGDConfig(), 10, []Group{{0, 5, true}, {4, 2, false}}) }},
		{"bad config", func() { NewAdamW(AdamWConfig{Beta1: 1, Beta2: 0.9, Eps: 1e-8}, 10, nil) }},
		{"bad sgd config", func() { NewSGD(SGDConfig{Momentum: -1}, 10, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		})
	}
}

func TestAdamWConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  AdamWConfig
		ok   bool
	}{
		{"default", DefaultAdamWConfig(), true},
		{"beta1 zero", AdamWConfig{Beta1: 0, Beta2: 0.9, Eps: 1e-8}, true},
		{"beta1 one", AdamWConfig{Beta1: 1, Beta2: 0.9, Eps: 1e-8}, false},
		{"beta2 negative", AdamWConfig{Beta1: 0.9, Beta2: -0.1, Eps: 1e-8}, false},
		{"eps zero", AdamWConfig{Beta1: 0.9, Beta2: 0.9}, false},
		{"decay NaN", AdamWConfig{Beta1: 0.9, Beta2: 0.9, Eps: 1e-8, WeightDecay: math.NaN()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("%+v.Validate() = %v; want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func TestDecayRuns(t *testing.T) {
	tests := []struct {
		name   string
		groups []Group
		want   []run
	}{
		{"none", nil, nil},
		{"merged neighbours", []Group{{4, 2, true}, {0, 4, true}, {6, 1, false}, {7, 3, true}}, []run{{0, 6}, {7, 10}}},
		{"empty group", []Group{{3, 0, true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decayRuns(10, tt.groups); !slices.Equal(got, tt.want) {
				t.Errorf("decayRuns(10, %v) = %v; want %v", tt.groups, got, tt.want)
			}
		})
	}
}
