package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestEncoderGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T, C, V = 2, 3, 4, 5
	wte, wpe := randSlice(rng, V*C, 1), randSlice(rng, T*C, 1)
	tokens := []int32{0, 4, 4, 1, 2, 0}
	R := randSlice(rng, B*T*C, 1)
	out := make([]float32, B*T*C)
	loss := func() float64 {
		encoderForward(out, tokens, wte, wpe, B, T, C)
		return dot64(out, R)
	}
	dwte, dwpe := make([]float32, V*C), make([]float32, T*C)
	var k kern
	k.encoderBackward(dwte, dwpe, R, tokens, B, T, C)
	checkGrad(t, "encoder wte", wte, dwte, loss, 1e-3, 1e-3)
	checkGrad(t, "encoder wpe", wpe, dwpe, loss, 1e-3, 1e-3)
}

func TestLinearGrad(t *testing.T) {
	for _, bias := range []bool{true, false} {
		t.Run(fmt.Sprintf("bias=%v", bias), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			const N, C, OC = 5, 7, 3
			in, w := randSlice(rng, N*C, 1), randSlice(rng, OC*C, 1)
			var b, db []float32
			if bias {
				b, db = randSlice(rng, OC, 1), make([]float32, OC)
			}
			R := randSlice(rng, N*OC, 1)
			out := make([]float32, N*OC)
			loss := func() float64 {
				linearForward(out, in, w, b, N, C, OC)
				return dot64(out, R)
			}
			din, dw := make([]float32, N*C), make([]float32, OC*C)
			var k kern
			k.linearBackward(din, dw, db, R, in, w, N, C, OC)
			checkGrad(t, "linear in", in, din, loss, 1e-3, 1e-3)
			checkGrad(t, "linear w", w, dw, loss, 1e-3, 1e-3)
			if bias {
				checkGrad(t, "linear bias", b, db, loss, 1e-3, 1e-3)
			}
		})
	}
}

func TestLinearForwardResidual(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	const N, C, OC = 5, 7, 3
	in, w, b, res := randSlice(rng, N*C, 1), randSlice(rng, OC*C, 1), randSlice(rng, OC, 1), randSlice(rng, N*OC, 1)
	got, lin, want := make([]float32, N*OC), make([]float32, N*OC), make([]float32, N*OC)
	linearForwardResidual(got, res, in, w, b, N, C, OC)
	linearForward(lin, in, w, b, N, C, OC)
	residualForward(want, res, lin, nil, 0, N*OC)
	near(t, "linearForwardResidual", got, want, 1e-6)
}

func TestLinearForwardVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, c := range []int{16, 48, 20} {
		const OC = 9
		in, w, b := randSlice(rng, c, 1), randSlice(rng, OC*c, 1), randSlice(rng, OC, 1)
		got, want := make([]float32, OC), make([]float32, OC)
		linearForwardVec(got, in, w, b, c, OC)
		linearForward(want, in, w, b, 1, c, OC)
		near(t, "linearForwardVec", got, want, 1e-5)
	}
}

func TestLayerNormGrad(t *testing.T) {
	for _, bias := range []bool{true, false} {
		t.Run(fmt.Sprintf("bias=%v", bias), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			const N, C = 4, 6
			in, w := randSlice(rng, N*C, 1), randSlice(rng, C, 1)
			var b, db []float32
			if bias {
				b, db = randSlice(rng, C, 1), make([]float32, C)
			}
			R := randSlice(rng, N*C, 1)
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			loss := func() float64 {
				layerNormForward(out, mean, rstd, in, w, b, C, 0, N)
				return dot64(out, R)
			}
			loss()
			din, dw := make([]float32, N*C), make([]float32, C)
			var k kern
			k.layerNormBackward(din, dw, db, R, in, mean, rstd, w, N, C)
			checkGrad(t, "layernorm in", in, din, loss, 2e-3, 2e-3)
			checkGrad(t, "layernorm w", w, dw, loss, 2e-3, 2e-3)
			if bias {
				checkGrad(t, "layernorm bias", b, db, loss, 2e-3, 2e-3)
			}
		})
	}
}

func TestGELUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const N = 40
	in := randSlice(rng, N, 2)
	R := randSlice(rng, N, 1)
	out, th := make([]float32, N), make([]float32, N)
	loss := func() float64 {
		geluForward(out, th, in, 0, N)
		return dot64(out, R)
	}
	loss()
	din := make([]float32, N)
	var k kern
	k.geluBackward(din, R, th, N, false)
	checkGrad(t, "gelu", in, din, loss, 1e-3, 1e-3)
}

func TestReLUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const N = 40
	in := randSlice(rng, N, 1)
	R := randSlice(rng, N, 1)
	out := make([]float32, N)
	loss := func() float64 {
		reluForward(out, in)
		return dot64(out, R)
	}
	loss()
	din := make([]float32, N)
	reluBackward(din, R, out)
	checkGrad(t, "relu", in, din, loss, 1e-3, 1e-3)
}

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct {
		drop     bool
		T        int
		C        int
		gemmOnly bool
	}{{false, 5, 8, false}, {true, 5, 8, false}, {true, 37, 8, false}, {false, 8, 64, false}, {true, 36, 64, false}, {true, 36, 64, true}} {
		drop, T, C := tc.drop, tc.T, tc.C // C 64: head size 32, the AVX-512 path unless gemmOnly
		t.Run(fmt.Sprintf("dropout=%v,T=%d,C=%d,gemmOnly=%v", drop, T, C, tc.gemmOnly), func(t *testing.T) {
			if tc.gemmOnly {
				avx512 := useAVX512
				useAVX512 = false
				defer func() { useAVX512 = avx512 }()
			}
			rng := rand.New(rand.NewPCG(11, 12))
			const B, NH = 2, 2
			qkv := randSlice(rng, B*T*3*C, 1)
			R := randSlice(rng, B*T*C, 1)
			out := make([]float32, B*T*C)
			att, attd := make([]float32, B*NH*T*T), make([]float32, B*NH*T*T)
			var mask []float32
			if drop {
				mask = make([]float32, B*NH*T*T)
				dropoutMask(mask, 0.3, 42, 0)
			}
			var k kern
			loss := func() float64 {
				k.attentionForward(out, att, attd, qkv, mask, B, T, C, NH)
				return dot64(out, R)
			}
			loss()
			dqkv, datt := make([]float32, B*T*3*C), make([]float32, B*NH*T*T)
			k.attentionBackward(dqkv, datt, R, qkv, att, attd, mask, B, T, C, NH, 1)
			step := 1
			if C > 8 {
				step = 23 // large: a spread sample of the inputs
			}
			checkGradEvery(t, "attention qkv", qkv, dqkv, loss, 2e-3, 2e-3, step)
		})
	}
}

func TestCrossEntropyGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const N, V = 5, 6
	logits := randSlice(rng, N*V, 2)
	targets := []int32{1, -1, 5, 0, -1}
	probs, losses := make([]float32, N*padRow(V)), make([]float64, N)
	var k kern
	loss := func() float64 {
		s, _ := k.crossEntropy(probs, losses, logits, targets, N, V)
		return s
	}
	sum, count := k.crossEntropy(probs, losses, logits, targets, N, V)
	if count != 3 {
		t.Errorf("crossEntropy count = %d; want 3", count)
	}
	if sum <= 0 {
		t.Errorf("crossEntropy sum = %g; want > 0", sum)
	}
	dl := make([]float32, N*V)
	const scale = 0.5
	k.crossEntropyBackward(dl, probs, targets, scale, N, V, false)
	for i := range dl {
		dl[i] /= scale
	}
	checkGrad(t, "cross-entropy logits", logits, dl, loss, 1e-3, 1e-3)
}

func TestResidualDropoutGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const N = 33
	res, x := randSlice(rng, N, 1), randSlice(rng, N, 1)
	mask := make([]float32, N)
	dropoutMask(mask, 0.5, 7, 1)
	R := randSlice(rng, N, 1)
	out := make([]float32, N)
	loss := func() float64 {
		residualForward(out, res, x, mask, 0, N)
		return dot64(out, R)
	}
	dx := make([]float32, N)
	residualBackward(dx, R, mask, 0, N)
	checkGrad(t, "residual x", x, dx, loss, 1e-3, 1e-3)
	checkGrad(t, "residual res", res, R, loss, 1e-3, 1e-3)
}

func TestDropoutMask(t *testing.T) {
	const n, p = 100001, 0.25
	m := make([]float32, n)
	dropoutMask(m, p, 99, 3)
	zeros := 0
	for i, v := range m {
		switch v {
		case 0:
			zeros++
		case 1 / (1 - float32(p)):
		default:
			t.Fatalf("dropoutMask: m[%d] = %g; want 0 or %g", i, v, 1/(1-p))
		}
	}
	if f := float64(zeros) / n; f < p-0.01 || f > p+0.01 {
		t.Errorf("dropoutMask dropped fraction = %.4f; want %.2f±0.01", f, p)
	}
	m2 := make([]float32, n)
	dropoutMask(m2, p, 99, 3)
	for i := range m {
		if m[i] != m2[i] {
			t.Fatalf("dropoutMask with the same seed differs at %d", i)
		}
	}
}

func abs32(x float32) float32 { return max(x, -x) }

// TestSetVariants: the "set" form of each backward equals clearing and
// adding.
func TestSetVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	junk := func(n int) []float32 { return randSlice(rng, n, 5) }
	var k kern
	equal := func(name string, set, add []float32) {
		t.Helper()
		for i := range set {
			if set[i] != add[i] {
				t.Fatalf("%s set[%d] = %g; want %g (clear and add)", name, i, set[i], add[i])
			}
		}
	}
	{
		const n = 1001
		in, d, th, out := junk(n), junk(n), make([]float32, n), make([]float32, n)
		geluForward(out, th, in, 0, n)
		set, add := junk(n), make([]float32, n)
		k.geluBackward(set, d, th, n, true)
		k.geluBackward(add, d, th, n, false)
		equal("geluBackward", set, add)
	}
	{
		const N, C = 9, 12
		in, w, d := junk(N*C), junk(C), junk(N*C)
		out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
		layerNormForward(out, mean, rstd, in, w, nil, C, 0, N)
		set, add := junk(N*C), make([]float32, N*C)
		k.layerNormBackwardSet(set, make([]float32, C), nil, d, in, mean, rstd, w, N, C, true)
		k.layerNormBackward(add, make([]float32, C), nil, d, in, mean, rstd, w, N, C)
		equal("layerNormBackward", set, add)
	}
	{
		const N, V = 5, 7
		logits, targets := junk(N*V), []int32{1, -1, 3, 0, -1}
		probs, losses := make([]float32, N*padRow(V)), make([]float64, N)
		k.crossEntropy(probs, losses, logits, targets, N, V)
		set, add := junk(N*V), make([]float32, N*V)
		k.crossEntropyBackward(set, probs, targets, 0.5, N, V, true)
		k.crossEntropyBackward(add, probs, targets, 0.5, N, V, false)
		equal("crossEntropyBackward", set, add)
	}
	{
		const B, T, C, NH = 2, 5, 8, 2
		qkv, dy := junk(B*T*3*C), junk(B*T*C)
		out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
		k.attentionForward(out, att, nil, qkv, nil, B, T, C, NH)
		set, add := junk(B*T*3*C), make([]float32, B*T*3*C)
		k.attentionBackward(set, make([]float32, B*NH*T*T), dy, qkv, att, nil, nil, B, T, C, NH, 0)
		k.attentionBackward(add, make([]float32, B*NH*T*T), dy, qkv, att, nil, nil, B, T, C, NH, 1)
		equal("attentionBackward", set, add)
	}
	{
		const N = 77
		d, m := junk(N), make([]float32, N)
		dropoutMask(m, 0.3, 1, 2)
		set, add := junk(N), make([]float32, N)
		k.residualBackwardSet(set, d, m, N)
		residualBackward(add, d, m, 0, N)
		equal("residualBackward", set, add)
	}
}

// near fails unless got and want agree within tol·max(1, |want|).
func near(t *testing.T, name string, got, want []float32, tol float32) {
	t.Helper()
	for i := range want {
		if d := abs32(got[i] - want[i]); d > tol*max(1, abs32(want[i])) {
			t.Fatalf("%s[%d] = %g; want %g", name, i, got[i], want[i])
		}
	}
}

// attentionRef is causal attention in float64 plain loops, without
// dropout: the reference of the blocked, gemm-based version.
func attentionRef(qkv []float32, b, t, c, nh int) (out []float64) {
	hs := c / nh
	out = make([]float64, b*t*c)
	at := func(bi, ti, off int) []float32 { return qkv[(bi*t+ti)*3*c+off:] }
	for bi := 0; bi < b; bi++ {
		for h := 0; h < nh; h++ {
			for i := 0; i < t; i++ {
				s := make([]float64, i+1)
				m := math.Inf(-1)
				for j := 0; j <= i; j++ {
					q, k := at(bi, i, h*hs), at(bi, j, c+h*hs)
					for d := 0; d < hs; d++ {
						s[j] += float64(q[d]) * float64(k[d])
					}
					s[j] /= math.Sqrt(float64(hs))
					m = max(m, s[j])
				}
				var z float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					z += s[j]
				}
				for j := range s {
					v := at(bi, j, 2*c+h*hs)
					for d := 0; d < hs; d++ {
						out[(bi*t+i)*c+h*hs+d] += s[j] / z * float64(v[d])
					}
				}
			}
		}
	}
	return out
}

// TestAttentionLongRows checks T beyond the row block (and not a multiple
// of 8) against the float64 reference, forward and backward.
func TestAttentionLongRows(t *testing.T) {
	for _, tc := range []struct{ T, C int }{{70, 16}, {68, 64}} {
		t.Run(fmt.Sprintf("T=%d,C=%d", tc.T, tc.C), func(t *testing.T) { testAttentionLongRows(t, tc.T, tc.C) })
	}
}

func testAttentionLongRows(t *testing.T, T, C int) {
	rng := rand.New(rand.NewPCG(25, 26))
	const B, NH = 1, 2
	qkv := randSlice(rng, B*T*3*C, 1)
	out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
	var k kern
	k.attentionForward(out, att, nil, qkv, nil, B, T, C, NH)
	want := attentionRef(qkv, B, T, C, NH)
	for i := range want {
		if d := math.Abs(float64(out[i]) - want[i]); d > 1e-5 {
			t.Fatalf("attentionForward out[%d] = %g; want %g", i, out[i], want[i])
		}
	}
	// Backward: directional derivative of Σ out·R along a random direction
	// of qkv, by central differences of the float64 reference.
	R, dir := randSlice(rng, B*T*C, 1), randSlice(rng, B*T*3*C, 1)
	dqkv := make([]float32, B*T*3*C)
	k.attentionBackward(dqkv, make([]float32, B*NH*T*T), R, qkv, att, nil, nil, B, T, C, NH, 0)
	var got float64
	for i := range dqkv {
		got += float64(dqkv[i]) * float64(dir[i])
	}
	f := func(eps float64) float64 {
		x := make([]float32, len(qkv))
		for i := range x {
			x[i] = qkv[i] + float32(eps)*dir[i]
		}
		var s float64
		for i, o := range attentionRef(x, B, T, C, NH) {
			s += o * float64(R[i])
		}
		return s
	}
	const h = 1e-3
	fd := (f(h) - f(-h)) / (2 * h)
	if math.Abs(got-fd) > 1e-3*math.Max(1, math.Abs(fd)) {
		t.Errorf("attentionBackward directional derivative = %g; want %g (finite differences of the reference)", got, fd)
	}
}
