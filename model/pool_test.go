package model

import (
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

type countJob struct {
	hits  []atomic.Int32
	calls atomic.Int32
}

func (j *countJob) run(lo, hi int) {
	j.calls.Add(1)
	for i := lo; i < hi; i++ {
		j.hits[i].Add(1)
	}
}

// TestPool: every index runs exactly once whatever the thread count, small
// jobs stay on the caller, and SetThreads stops the helpers it replaces.
func TestPool(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer SetThreads(1)
	for _, tc := range []struct {
		threads, n, minPer, wantCalls int
	}{
		{1, 100, 1, 1},
		{2, 100, 1, 2 * chunksPerThread},
		{2, 100, 60, 1}, // under 2·minPer items: one call
		{2, 100, 30, 3},
		{2, 1, 1, 1},
		{3, 10, 1, 10},
	} {
		SetThreads(tc.threads)
		j := &countJob{hits: make([]atomic.Int32, tc.n)}
		parallel(tc.n, tc.minPer, j)
		for i := range j.hits {
			if h := j.hits[i].Load(); h != 1 {
				t.Fatalf("threads %d, n %d: index %d ran %d times; want 1", tc.threads, tc.n, i, h)
			}
		}
		if c := int(j.calls.Load()); c != tc.wantCalls {
			t.Errorf("threads %d, n %d, minPer %d: %d chunks; want %d", tc.threads, tc.n, tc.minPer, c, tc.wantCalls)
		}
	}
	SetThreads(1)
	if Threads() != 1 {
		t.Errorf("Threads() = %d; want 1", Threads())
	}
}

// TestPoolVaryingCuts alternates jobs that need some helpers and jobs that
// need all, quickly: a helper left out of one job must not run a later one
// twice or see half-written fields.
func TestPoolVaryingCuts(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer SetThreads(1)
	SetThreads(3)
	for it := range 2000 {
		n := []int{2, 100, 1, 3, 7}[it%5]
		j := &countJob{hits: make([]atomic.Int32, n)}
		parallel(n, 1, j)
		for i := range j.hits {
			if h := j.hits[i].Load(); h != 1 {
				t.Fatalf("iteration %d, n %d: index %d ran %d times; want 1", it, n, i, h)
			}
		}
	}
}
