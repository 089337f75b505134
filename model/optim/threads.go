package optim

import (
	"runtime"
	"sync"
)

// SetThreads sets how many goroutines Step, ClipGlobalNorm, SumSquares and
// Scale split their work over; n <= 0 means GOMAXPROCS. The default is 1.
// Results never depend on it: updates are element by element and sums use
// a fixed reduction order. With n > 1, n-1 helper goroutines wait for work
// until SetThreads(1). It must not be called during a Step, ClipGlobalNorm
// or Scale.
//
// StepRange always runs on the caller's goroutine, so that callers holding
// sharded state can run disjoint ranges concurrently themselves.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	poolMu.Lock()
	defer poolMu.Unlock()
	if thePool.threads == n {
		return
	}
	thePool.stop()
	thePool = newPool(n)
}

// Threads returns the goroutine count set by SetThreads.
func Threads() int {
	poolMu.Lock()
	defer poolMu.Unlock()
	return thePool.threads
}

// minPerThread keeps small arrays on one goroutine, where waking a helper
// would cost more than it saves: 16K elements, 64 KiB of float32.
const minPerThread = 1 << 14

var (
	poolMu  sync.Mutex
	thePool = newPool(1)
)

// parallel runs job over the elements [0, n) of an array, split into
// contiguous chunks of whole units of unit elements (the last may be
// short), one per goroutine.
func parallel(n, unit int, job ranger) {
	poolMu.Lock()
	p := thePool
	poolMu.Unlock()
	p.do(n, unit, job)
}

// ranger is a loop body over elements [lo, hi). Implementations are
// pointers to long-lived structs, so handing one to the pool allocates
// nothing.
type ranger interface{ run(lo, hi int) }

// pool is a fixed set of goroutines that split one job at a time.
type pool struct {
	mu      sync.Mutex // one job at a time
	threads int
	wake    []chan struct{} // one per helper goroutine (threads-1)
	wg      sync.WaitGroup

	// the current job, read by the helpers after a wake
	job                ranger
	n, unit, units, cu int // elements; elements per unit; units; chunks in use
}

func newPool(threads int) *pool {
	p := &pool{threads: threads}
	for i := 1; i < threads; i++ {
		ch := make(chan struct{})
		p.wake = append(p.wake, ch)
		go p.helper(i, ch)
	}
	return p
}

func (p *pool) chunk(i int) (lo, hi int) {
	lo = i * p.units / p.cu * p.unit
	hi = min((i+1)*p.units/p.cu*p.unit, p.n)
	return lo, hi
}

func (p *pool) helper(i int, wake chan struct{}) {
	for range wake {
		if lo, hi := p.chunk(i); lo < hi {
			p.job.run(lo, hi)
		}
		p.wg.Done()
	}
}

// stop ends the helper goroutines once the current job is done.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.wake {
		close(ch)
	}
	p.wake = nil
}

func (p *pool) do(n, unit int, job ranger) {
	if n <= 0 {
		return
	}
	units := (n + unit - 1) / unit
	cu := min(p.threads, units, n/minPerThread)
	if cu <= 1 {
		job.run(0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.job, p.n, p.unit, p.units, p.cu = job, n, unit, units, cu
	p.wg.Add(cu - 1)
	for i := 1; i < cu; i++ {
		p.wake[i-1] <- struct{}{}
	}
	lo, hi := p.chunk(0)
	job.run(lo, hi)
	p.wg.Wait()
	p.job = nil
}
