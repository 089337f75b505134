package gemm

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
)

// chunkRecorder records the chunks For hands it and counts visits per index.
type chunkRecorder struct {
	mu     sync.Mutex
	chunks [][2]int
	visits []atomic.Int32
}

func (r *chunkRecorder) Run(lo, hi int) {
	r.mu.Lock()
	r.chunks = append(r.chunks, [2]int{lo, hi})
	r.mu.Unlock()
	for i := lo; i < hi; i++ {
		r.visits[i].Add(1)
	}
}

// TestFor checks that For covers [0, n) once, in the documented chunks.
func TestFor(t *testing.T) {
	tests := []struct {
		n, minPer, threads int
		want               [][2]int
	}{
		{0, 1, 4, nil},
		{10, 1, 1, [][2]int{{0, 10}}},
		{10, 0, 3, [][2]int{{0, 3}, {3, 6}, {6, 10}}},
		{10, 4, 4, [][2]int{{0, 5}, {5, 10}}},
		{10, 20, 4, [][2]int{{0, 10}}},
		{7, 1, 4, [][2]int{{0, 1}, {1, 3}, {3, 5}, {5, 7}}},
		{1000, 10, 2, [][2]int{{0, 500}, {500, 1000}}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("n=%d,minPer=%d,threads=%d", tt.n, tt.minPer, tt.threads)
		t.Run(name, func(t *testing.T) {
			useThreads(t, tt.threads)
			r := &chunkRecorder{visits: make([]atomic.Int32, tt.n)}
			For(tt.n, tt.minPer, r)
			sort.Slice(r.chunks, func(i, j int) bool { return r.chunks[i][0] < r.chunks[j][0] })
			if fmt.Sprint(r.chunks) != fmt.Sprint(tt.want) {
				t.Errorf("For(%s) chunks = %v; want %v", name, r.chunks, tt.want)
			}
			for i := range r.visits {
				if v := r.visits[i].Load(); v != 1 {
					t.Errorf("For(%s) ran index %d %d times; want 1", name, i, v)
				}
			}
		})
	}
}

// sumRanger adds its indices into per-chunk slots, without allocating.
type sumRanger struct{ out []int64 }

func (s *sumRanger) Run(lo, hi int) {
	var x int64
	for i := lo; i < hi; i++ {
		x += int64(i)
	}
	s.out[lo%len(s.out)] += x
}

// TestForNoAllocs checks that a steady-state For allocates nothing.
func TestForNoAllocs(t *testing.T) {
	useThreads(t, 2)
	r := &sumRanger{out: make([]int64, 1<<16)}
	f := func() { For(1<<16, 1, r) }
	f()
	if got := testing.AllocsPerRun(20, f); got != 0 {
		t.Errorf("For allocates %v times per call; want 0", got)
	}
}

// TestForWithSgemm runs For loops and threaded Sgemm calls from several
// goroutines at once on the shared helpers (run with -race).
func TestForWithSgemm(t *testing.T) {
	useThreads(t, 3)
	parallelAlways(t)
	c := gemmCase{tA: true, tB: false, m: 50, n: 70, k: 40, alpha: 1, beta: 0}
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				r := &chunkRecorder{visits: make([]atomic.Int32, 100)}
				For(100, 1, r)
				for j := range r.visits {
					if v := r.visits[j].Load(); v != 1 {
						t.Errorf("For(100) ran index %d %d times; want 1", j, v)
					}
				}
				o := c.operands(newTestRand(uint64(g*10 + i)))
				want := append([]float32(nil), o.c...)
				Reference(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, want, o.ldc)
				Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, o.c, o.ldc)
				c.check(t, "concurrent with For", o.c, want, o.ldc)
			}
		}()
	}
	wg.Wait()
}
