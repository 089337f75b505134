package optim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// withThreads runs f under SetThreads(n) and restores 1 (no helpers) after.
func withThreads(t *testing.T, n int, f func()) {
	t.Helper()
	SetThreads(n)
	defer SetThreads(1)
	if got := Threads(); got != n {
		t.Fatalf("Threads() after SetThreads(%d) = %d", n, got)
	}
	f()
}

// TestThreadsBitwise checks that Step, SumSquares and Scale give bitwise the
// same results for every thread count, on arrays long enough to be split.
func TestThreadsBitwise(t *testing.T) {
	const n = 5*SumBlock + 12345 // 6 sum blocks, split over up to 3 goroutines
	rng := rand.New(rand.NewPCG(21, 22))
	p0, grads := randVec(rng, n, 1), randVec(rng, n, 1e-2)
	groups := testGroups(n)

	type result struct {
		adamw, sgd, scaled []float32
		sum                float64
	}
	run := func() result {
		a, s := NewAdamW(DefaultAdamWConfig(), n, groups), NewSGD(SGDConfig{Momentum: 0.9, WeightDecay: 0.1}, n, groups)
		pa, ps := slices.Clone(p0), slices.Clone(p0)
		for step := 1; step <= 3; step++ {
			a.Step(step, 1e-3, pa, grads)
			s.Step(step, 1e-3, ps, grads)
		}
		sc := slices.Clone(grads)
		Scale(sc, 0.3)
		return result{pa, ps, sc, SumSquares(grads)}
	}
	var want result
	withThreads(t, 1, func() { want = run() })

	// The definition of SumSquares: block sums, added in order.
	def := 0.0
	for b := 0; b < n; b += SumBlock {
		def += blockSumSquares(grads[b:min(b+SumBlock, n)])
	}
	if math.Float64bits(want.sum) != math.Float64bits(def) {
		t.Errorf("SumSquares = %v; want the in-order sum of block sums %v", want.sum, def)
	}
	for _, threads := range []int{2, 3} {
		withThreads(t, threads, func() {
			got := run()
			if !slices.Equal(got.adamw, want.adamw) {
				t.Errorf("AdamW.Step with %d threads differs from 1 thread", threads)
			}
			if !slices.Equal(got.sgd, want.sgd) {
				t.Errorf("SGD.Step with %d threads differs from 1 thread", threads)
			}
			if !slices.Equal(got.scaled, want.scaled) {
				t.Errorf("Scale with %d threads differs from 1 thread", threads)
			}
			if math.Float64bits(got.sum) != math.Float64bits(want.sum) {
				t.Errorf("SumSquares with %d threads = %v; want %v", threads, got.sum, want.sum)
			}
		})
	}
}

func TestThreadsAllocateNothing(t *testing.T) {
	const n = 4 * SumBlock
	rng := rand.New(rand.NewPCG(23, 24))
	p, g := randVec(rng, n, 1), randVec(rng, n, 1e-2)
	withThreads(t, 2, func() {
		o := NewAdamW(DefaultAdamWConfig(), n, testGroups(n))
		ClipGlobalNorm(g, 1e-3) // sizes the partial sums once
		step := 0
		a := testing.AllocsPerRun(10, func() {
			step++
			ClipGlobalNorm(g, 1e9)
			o.Step(step, 1e-3, p, g)
		})
		if a != 0 {
			t.Errorf("AllocsPerRun(ClipGlobalNorm + Step, 2 threads) = %v; want 0", a)
		}
	})
}

// TestStepRangeConcurrent runs disjoint StepRange calls at once (as a
// caller with sharded state may); run with -race.
func TestStepRangeConcurrent(t *testing.T) {
	const n = 1000
	rng := rand.New(rand.NewPCG(25, 26))
	p, g := randVec(rng, n, 1), randVec(rng, n, 1e-2)
	want := slices.Clone(p)
	groups := testGroups(n)
	NewAdamW(DefaultAdamWConfig(), n, groups).Step(1, 1e-3, want, g)
	o := NewAdamW(DefaultAdamWConfig(), n, groups)
	done := make(chan struct{})
	for _, r := range [][2]int{{0, 333}, {333, 777}, {777, n}} {
		go func() {
			defer func() { done <- struct{}{} }()
			o.StepRange(1, 1e-3, p, g, r[0], r[1])
		}()
	}
	for range 3 {
		<-done
	}
	if !slices.Equal(p, want) {
		t.Errorf("concurrent StepRange over [0,333), [333,777), [777,%d) differs from Step", n)
	}
}
