package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func randomFeatures(rng *rand.Rand, b, f, classes int) *Batch {
	x := &Batch{B: b, T: 1, Features: randSlice(rng, b*f, 1), Targets: make([]int32, b)}
	for i := range x.Targets {
		x.Targets[i] = int32(rng.IntN(classes))
	}
	x.Targets[1] = -1
	return x
}

func TestMLPGrad(t *testing.T) {
	for _, hidden := range [][]int{nil, {6}, {5, 4}} {
		t.Run(fmt.Sprint(hidden), func(t *testing.T) {
			m, err := NewMLP(MLPConfig{Inputs: 3, Hidden: hidden, Classes: 4, MaxBatch: 8, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			b := randomFeatures(rand.New(rand.NewPCG(1, 1)), 6, 3, 4)
			a := m.Arena()
			a.ZeroGrad()
			_, n := m.Forward(b, true)
			if n != 5 {
				t.Errorf("MLP.Forward count = %d; want 5 (one target ignored)", n)
			}
			m.Backward(1)
			loss := func() float64 {
				s, _ := m.Forward(b, true)
				return s
			}
			fdStep = 1e-3 // small: a ReLU kink within the step breaks differences
			defer func() { fdStep = 1e-2 }()
			for _, ten := range a.Tensors {
				p, d := a.Lookup(ten.Name)
				checkGrad(t, ten.Name, p, slices.Clone(d), loss, 2e-3, 5e-3)
			}
		})
	}
}

func TestMLPDeterministicAndAllocs(t *testing.T) {
	cfg := MLPConfig{Inputs: 5, Hidden: []int{16, 8}, Classes: 3, MaxBatch: 32, Seed: 11}
	m1, _ := NewMLP(cfg)
	m2, _ := NewMLP(cfg)
	if !slices.Equal(m1.Arena().Params, m2.Arena().Params) {
		t.Fatalf("NewMLP with the same seed: params differ")
	}
	b := randomFeatures(rand.New(rand.NewPCG(2, 2)), 32, 5, 3)
	l1, _ := m1.Forward(b, true)
	m1.Backward(1)
	l2, _ := m2.Forward(b, true)
	m2.Backward(1)
	if l1 != l2 || !slices.Equal(m1.Arena().Grads, m2.Arena().Grads) {
		t.Errorf("MLP: same seed and batch gave losses %v and %v or different gradients", l1, l2)
	}
	if n := testing.AllocsPerRun(5, func() { m1.Forward(b, true); m1.Backward(1) }); n != 0 {
		t.Errorf("MLP allocations per step = %g; want 0", n)
	}
	dst := make([]int32, 32)
	m1.Predict(dst)
	for i, c := range dst {
		if c < 0 || c >= 3 {
			t.Fatalf("Predict()[%d] = %d; want a class in [0, 3)", i, c)
		}
	}
}

func TestMLPLearns(t *testing.T) {
	// Two Gaussian blobs: a few SGD steps must fit them.
	m, _ := NewMLP(MLPConfig{Inputs: 2, Hidden: []int{16}, Classes: 2, MaxBatch: 64, Seed: 1})
	rng := rand.New(rand.NewPCG(3, 3))
	b := &Batch{B: 64, T: 1, Features: make([]float32, 128), Targets: make([]int32, 64)}
	for i := range 64 {
		c := i % 2
		b.Targets[i] = int32(c)
		b.Features[2*i] = float32(rng.NormFloat64()*0.3 + float64(2*c-1))
		b.Features[2*i+1] = float32(rng.NormFloat64() * 0.3)
	}
	a := m.Arena()
	var first, last float64
	for step := range 100 {
		a.ZeroGrad()
		l, n := m.Forward(b, true)
		m.Backward(1 / float32(n))
		if step == 0 {
			first = l / float64(n)
		}
		last = l / float64(n)
		for i := range a.Params {
			a.Params[i] -= 0.5 * a.Grads[i]
		}
	}
	if last > 0.1 || last > first/4 {
		t.Errorf("MLP mean loss after 100 SGD steps = %.4f (first %.4f); want < 0.1", last, first)
	}
}

func TestMLPConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*MLPConfig)
		ok   bool
	}{
		{"default", func(*MLPConfig) {}, true},
		{"no inputs", func(c *MLPConfig) { c.Inputs = 0 }, false},
		{"one class", func(c *MLPConfig) { c.Classes = 1 }, false},
		{"empty hidden layer", func(c *MLPConfig) { c.Hidden = []int{4, 0} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultMLPConfig()
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v; want ok %v", err, tc.ok)
			}
		})
	}
}
