package model

import (
	"math/rand/v2"
	"testing"
)

// The SIMD kernels against their Go references, and the fast math
// functions against the math package.

// TestSIMDMatchesGo holds the AVX2 kernels to their Go references.
func TestSIMDMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 on this CPU: only the Go kernels run")
	}
	rng := rand.New(rand.NewPCG(17, 18))
	const n = 1003
	in, d := randSlice(rng, n, 3), randSlice(rng, n, 1)
	in[0], in[1], in[2] = 20, -20, 0
	out1, th1, out2, th2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	geluForward(out1, th1, in, 0, n)
	geluForwardGo(out2, th2, in, 0, n)
	for i := range out1 {
		tol := 1e-6 * max(1, abs32(in[i]))
		// The derivative has 0.5·K·x·(1+3A·x²)·(1-t²): t's last-bit
		// differences (FMA or not) grow with |x|³ until tanh saturates.
		gtol := 1e-6 * max(1, abs32(in[i]*in[i]*in[i]))
		if diff := out1[i] - out2[i]; diff > tol || diff < -tol || abs32(th1[i]-th2[i]) > gtol {
			t.Fatalf("geluForward(%g) = %g, derivative %g; want %g, %g (Go)", in[i], out1[i], th1[i], out2[i], th2[i])
		}
	}
	di1, di2 := make([]float32, n), make([]float32, n)
	geluBackward(di1, d, th1, 0, n, false)
	geluBackwardGo(di2, d, th1, 0, n, false)
	for i := range di1 {
		if diff := di1[i] - di2[i]; diff > 1e-5 || diff < -1e-5 {
			t.Fatalf("geluBackward at %g = %g; want %g (Go)", in[i], di1[i], di2[i])
		}
	}
	for _, m := range []int{1, 7, 8, 9, 64, 65} {
		x := randSlice(rng, m, 5)
		y := append([]float32(nil), x...)
		mx := float32(2)
		s1 := expSum(x, mx)
		var s2 float32
		for i := range y {
			y[i] = expf(y[i] - mx)
			s2 += y[i]
		}
		for i := range x {
			if r := (x[i] - y[i]) / y[i]; r > 1e-6 || r < -1e-6 {
				t.Fatalf("expSum element %d of %d = %g; want %g", i, m, x[i], y[i])
			}
		}
		if r := (s1 - s2) / s2; r > 1e-5 || r < -1e-5 {
			t.Errorf("expSum(%d elements) = %g; want %g", m, s1, s2)
		}
	}
}

func TestSoftmaxRowSIMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for n := 1; n <= 64; n++ {
		x := randSlice(rng, 64, 4)
		y := append([]float32(nil), x...)
		softmaxCausalRow(x, n)
		softmaxCausalRowGo(y, n)
		for i := range x {
			if d := x[i] - y[i]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("softmaxCausalRow(n=%d)[%d] = %g; want %g (Go)", n, i, x[i], y[i])
			}
		}
	}
}

func TestSoftmaxBackwardRowSIMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for n := 1; n <= 64; n++ {
		a := randSlice(rng, 64, 4)
		softmaxCausalRow(a, n)
		d1 := randSlice(rng, 64, 1)
		d2 := append([]float32(nil), d1...)
		softmaxBackwardRow(d1, a, n, 0.7)
		softmaxBackwardRowGo(d2, a, n, 0.7)
		near(t, "softmaxBackwardRow", d1, d2, 1e-6)
	}
}

func TestTanhRational(t *testing.T) {
	for x := float32(-20); x <= 20; x += 0.001 {
		got, want := tanhRational(x), mathTanh(float64(x))
		if d := float64(got) - want; d > 1e-6 || d < -1e-6 {
			t.Fatalf("tanhRational(%g) = %g; want %g", x, got, want)
		}
	}
}

func TestLayerNormSIMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const N, C = 7, 48
	for _, bias := range []bool{true, false} {
		in, w, d := randSlice(rng, N*C, 2), randSlice(rng, C, 1), randSlice(rng, N*C, 1)
		var b []float32
		if bias {
			b = randSlice(rng, C, 1)
		}
		o1, m1, r1 := make([]float32, N*C), make([]float32, N), make([]float32, N)
		o2, m2, r2 := make([]float32, N*C), make([]float32, N), make([]float32, N)
		layerNormForward(o1, m1, r1, in, w, b, C, 0, N)
		layerNormForwardGo(o2, m2, r2, in, w, b, C, 0, N)
		near(t, "layerNormForward out", o1, o2, 1e-5)
		near(t, "layerNormForward mean", m1, m2, 1e-6)
		near(t, "layerNormForward rstd", r1, r2, 1e-5)
		for _, set := range []bool{true, false} {
			d1, d2 := randSlice(rng, N*C, 1), make([]float32, N*C)
			copy(d2, d1)
			layerNormBackwardRows(d1, d, in, m1, r1, w, C, 0, N, set)
			layerNormBackwardRowsGo(d2, d, in, m1, r1, w, C, 0, N, set)
			near(t, "layerNormBackwardRows", d1, d2, 1e-5)
		}
		dw1, dw2 := randSlice(rng, C, 1), make([]float32, C)
		copy(dw2, dw1)
		var db1, db2 []float32
		if bias {
			db1, db2 = randSlice(rng, C, 1), make([]float32, C)
			copy(db2, db1)
		}
		layerNormBackwardCols(dw1, db1, d, in, m1, r1, N, C, 8, 40)
		layerNormBackwardColsGo(dw2, db2, d, in, m1, r1, N, C, 8, 40)
		near(t, "layerNormBackwardCols dW", dw1, dw2, 1e-5)
		near(t, "layerNormBackwardCols dB", db1, db2, 1e-5)
	}
}

func TestFastMath(t *testing.T) {
	for x := float32(-80); x <= 80; x += 0.013 {
		got, want := expf(x), mathExp(float64(x))
		if r := (float64(got) - want) / want; r > 3e-7 || r < -3e-7 {
			t.Fatalf("expf(%g) = %g; want %g", x, got, want)
		}
	}
}

// TestCrossEntropyValue holds the loss to a float64 log-softmax, at a
// vocabulary that is not a multiple of 8 and with large logits.
func TestCrossEntropyValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	const N, V = 9, 65
	logits := randSlice(rng, N*V, 30)
	targets := make([]int32, N)
	for i := range targets {
		targets[i] = int32(rng.IntN(V))
	}
	targets[3] = -1
	probs, losses := make([]float32, N*padRow(V)), make([]float64, N)
	var k kern
	got, n := k.crossEntropy(probs, losses, logits, targets, N, V)
	var want float64
	for r := 0; r < N; r++ {
		if targets[r] < 0 {
			continue
		}
		x := logits[r*V : r*V+V]
		m := float64(slicesMax(x))
		var s float64
		for _, z := range x {
			s += mathExp(float64(z) - m)
		}
		want += mathLog(s) + m - float64(x[targets[r]])
	}
	if n != N-1 || absf64(got-want) > 1e-4*max(1, absf64(want)) {
		t.Errorf("crossEntropy = %v, %d; want %v, %d", got, n, want, N-1)
	}
}

func slicesMax(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func absf64(x float64) float64 { return max(x, -x) }
