package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSGDMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  SGDConfig
		n    int
	}{
		{"momentum", SGDConfig{Momentum: 0.9}, 50},
		{"momentum and decay", SGDConfig{Momentum: 0.9, WeightDecay: 0.1}, 77},
		{"plain", SGDConfig{}, 20},
		{"plain with decay", SGDConfig{WeightDecay: 0.5}, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			params := randVec(rng, tt.n, 1)
			groups := testGroups(tt.n)
			ref := newRefSGD(tt.cfg, params, groups)
			o := NewSGD(tt.cfg, tt.n, groups)
			for step := 1; step <= 20; step++ {
				grads := randVec(rng, tt.n, 1)
				o.Step(step, 0.05, params, grads)
				ref.step(0.05, grads)
				for i := range params {
					got, want := float64(params[i]), ref.p[i]
					if d := math.Abs(got - want); d > 1e-5*math.Max(1, math.Abs(want)) {
						t.Fatalf("step %d: p[%d] = %v; want %v (diff %g)", step, i, got, want, d)
					}
				}
			}
		})
	}
}

func TestSGDStepRangeBitwise(t *testing.T) {
	const n = 97
	rng := rand.New(rand.NewPCG(11, 12))
	cfg := SGDConfig{Momentum: 0.9, WeightDecay: 0.1}
	groups := testGroups(n)
	whole, parts := NewSGD(cfg, n, groups), NewSGD(cfg, n, groups)
	p1 := randVec(rng, n, 1)
	p2 := slices.Clone(p1)
	for step := 1; step <= 4; step++ {
		g := randVec(rng, n, 1)
		whole.Step(step, 0.1, p1, g)
		parts.StepRange(step, 0.1, p2, g, 40, n)
		parts.StepRange(step, 0.1, p2, g, 0, 3)
		parts.StepRange(step, 0.1, p2, g, 3, 40)
		if !slices.Equal(p1, p2) || !slices.Equal(whole.buf, parts.buf) {
			t.Fatalf("step %d: StepRange in pieces differs from Step", step)
		}
	}
	if a := testing.AllocsPerRun(10, func() { whole.Step(5, 0.1, p1, p2) }); a != 0 {
		t.Errorf("AllocsPerRun(SGD.Step) = %v; want 0", a)
	}
}
