package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

// randSlice returns n normal(0, std) values.
func randSlice(rng *rand.Rand, n int, std float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
	return x
}

// dot64 is Σ a·b in float64: the scalar "loss" L = Σ out·R whose gradient
// with respect to out is R, used to check layer backwards.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkGrad compares the analytic gradient got of loss with respect to x
// with gonum's central finite differences, element by element: |got - fd|
// must be within abs + rel·|fd|. loss is evaluated in float32 arithmetic
// (the model's), hence the step of 1e-2 and the loose tolerance.
func checkGrad(t testing.TB, name string, x, got []float32, loss func() float64, abs, rel float64) {
	t.Helper()
	checkGradEvery(t, name, x, got, loss, abs, rel, 1)
}

// checkGradEvery is checkGrad on every step-th element only, for inputs
// too large to difference whole.
func checkGradEvery(t testing.TB, name string, x, got []float32, loss func() float64, abs, rel float64, step int) {
	t.Helper()
	if len(got) != len(x) {
		t.Fatalf("%s: %d gradients for %d inputs", name, len(got), len(x))
	}
	settings := &fd.Settings{Formula: fd.Central, Step: fdStep}
	bad := 0
	for i := len(x) % step; i < len(x); i += step {
		orig := x[i]
		want := fd.Derivative(func(v float64) float64 {
			x[i] = float32(v)
			return loss()
		}, float64(orig), settings)
		x[i] = orig
		if d := math.Abs(float64(got[i]) - want); d > abs+rel*math.Abs(want) || math.IsNaN(d) {
			if bad++; bad <= 5 {
				t.Errorf("%s: d loss/d x[%d] = %.6g; want %.6g (finite differences)", name, i, got[i], want)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d gradients wrong", name, bad, len(x))
	}
}

// fdStep is the finite-difference step of checkGrad.
var fdStep = 1e-2
