package model

import (
	"runtime"
	"sync"

	"github.com/craftml/craft/model/gemm"
)

// ranger is a loop body the pool splits: run computes indices [lo, hi).
// Implementations are pointers to long-lived argument structs, so handing
// one to the pool allocates nothing.
type ranger interface{ run(lo, hi int) }

// pool runs the non-gemm loops of the layers on a fixed set of goroutines.
// A call to do splits [0, n) into one contiguous chunk per thread; the layers
// make every index's result independent of the chunk it falls in, so the
// thread count never changes a result.
type pool struct {
	mu      sync.Mutex // one do at a time
	threads int
	wake    []chan struct{} // one per helper goroutine (threads-1)
	wg      sync.WaitGroup

	// the current job, read by the helpers after a wake
	job    ranger
	n, cut int // items; chunks in use
}

var thePool = newPool(1)

func newPool(threads int) *pool {
	p := &pool{threads: threads}
	for i := 1; i < threads; i++ {
		ch := make(chan struct{})
		p.wake = append(p.wake, ch)
		go p.helper(i, ch)
	}
	return p
}

func (p *pool) helper(i int, wake chan struct{}) {
	for range wake {
		lo, hi := i*p.n/p.cut, (i+1)*p.n/p.cut
		if lo < hi {
			p.job.run(lo, hi)
		}
		p.wg.Done()
	}
}

// stop ends the helper goroutines.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.wake {
		close(ch)
	}
	p.wake = nil
}

// do runs job over [0, n), in parallel if n is at least minPar per thread.
func (p *pool) do(n, minPer int, job ranger) {
	if n <= 0 {
		return
	}
	cut := p.threads
	if minPer > 0 && n/minPer < cut {
		cut = max(1, n/minPer)
	}
	if cut <= 1 {
		job.run(0, n)
		return
	}
	p.mu.Lock()
	p.job, p.n, p.cut = job, n, cut
	p.wg.Add(cut - 1)
	for i := 1; i < cut; i++ {
		p.wake[i-1] <- struct{}{}
	}
	job.run(0, n/cut)
	p.wg.Wait()
	p.job = nil
	p.mu.Unlock()
}

var poolMu sync.Mutex

// SetThreads sets how many threads a model uses: gemm's goroutines per
// multiply (gemm.SetThreads) and the pool that runs the other loops. n <= 0
// means GOMAXPROCS. Results do not depend on it, as long as gemm's do not
// (see the package doc). It must not be called during a Forward or Backward.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	gemm.SetThreads(n)
	poolMu.Lock()
	defer poolMu.Unlock()
	if thePool.threads == n {
		return
	}
	thePool.stop()
	thePool = newPool(n)
}

// Threads returns the thread count set by SetThreads (1 by default).
func Threads() int {
	poolMu.Lock()
	defer poolMu.Unlock()
	return thePool.threads
}

// parallel runs job over [0, n) on the current pool.
func parallel(n, minPer int, job ranger) { thePool.do(n, minPer, job) }
