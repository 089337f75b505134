package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func refNorm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func TestClipGlobalNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	tests := []struct {
		name    string
		grads   []float32
		maxNorm float64
		clipped bool
	}{
		{"3-4-5 clipped", []float32{3, 4}, 1, true},
		{"3-4-5 kept", []float32{3, 4}, 5.01, false},
		{"3-4-5 at the threshold", []float32{3, 4}, 5, true}, // torch divides by norm+1e-6
		{"measure only", []float32{3, 4}, 0, false},
		{"empty", nil, 1, false},
		{"large random clipped", randVec(rng, 100003, 1), 1, true},
		{"small random kept", randVec(rng, 1000, 1e-3), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := slices.Clone(tt.grads)
			want := refNorm(tt.grads)
			got := ClipGlobalNorm(g, tt.maxNorm)
			if math.Abs(got-want) > 1e-12*math.Max(1, want) {
				t.Errorf("ClipGlobalNorm(%s) = %v; want %v", tt.name, got, want)
			}
			if !tt.clipped {
				if !slices.Equal(g, tt.grads) {
					t.Errorf("ClipGlobalNorm(%s, %v) changed grads below the threshold", tt.name, tt.maxNorm)
				}
				return
			}
			coef := float32(tt.maxNorm / (want + 1e-6))
			for i := range g {
				if w := tt.grads[i] * coef; g[i] != w {
					t.Fatalf("after ClipGlobalNorm g[%d] = %v; want %v", i, g[i], w)
				}
			}
			if after := refNorm(g); math.Abs(after-tt.maxNorm) > 1e-5 {
				t.Errorf("norm after ClipGlobalNorm(%s, %v) = %v; want %v", tt.name, tt.maxNorm, after, tt.maxNorm)
			}
		})
	}
}

func TestClipGlobalNormNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		g := []float32{1, 2, bad, 3}
		orig := slices.Clone(g)
		n := ClipGlobalNorm(g, 1)
		if !math.IsNaN(n) && !math.IsInf(n, 0) {
			t.Errorf("ClipGlobalNorm(%v) = %v; want non-finite", orig, n)
		}
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(orig[i]) {
				t.Errorf("ClipGlobalNorm(%v, 1) changed g[%d] to %v", orig, i, g[i])
			}
		}
	}
}

// TestSumSquaresBitwise checks the architecture's kernel against the Go
// lanes on every length to 100, and that a sum does not depend on alignment.
func TestSumSquaresBitwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	x := randVec(rng, 100, 1e3)
	for n := 0; n <= len(x); n++ {
		var lanes [16]float64
		m := n &^ 15
		sumSquares16Go(x[:m], &lanes)
		for i := m; i < n; i++ {
			lanes[i&15] += float64(x[i]) * float64(x[i])
		}
		for w := 8; w >= 1; w /= 2 {
			for j := 0; j < w; j++ {
				lanes[j] += lanes[j+w]
			}
		}
		if got := SumSquares(x[:n]); math.Float64bits(got) != math.Float64bits(lanes[0]) {
			t.Fatalf("SumSquares(x[:%d]) = %v; want %v bitwise", n, got, lanes[0])
		}
	}
}

func TestScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for n := 0; n <= 40; n++ {
		x := randVec(rng, n, 1)
		want := slices.Clone(x)
		scaleGo(want, 0.37)
		Scale(x, 0.37)
		if !slices.Equal(x, want) {
			t.Fatalf("Scale(x[:%d], 0.37) = %v; want %v", n, x, want)
		}
	}
}

func TestClipAllocatesNothing(t *testing.T) {
	g := randVec(rand.New(rand.NewPCG(1, 1)), 1000, 1)
	if a := testing.AllocsPerRun(10, func() { ClipGlobalNorm(g, 1) }); a != 0 {
		t.Errorf("AllocsPerRun(ClipGlobalNorm) = %v; want 0", a)
	}
}
