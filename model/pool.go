package model

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/craftml/craft/model/gemm"
)

// ranger is a loop body the pool splits: run computes indices [lo, hi).
// Implementations are pointers to long-lived argument structs, so handing
// one to the pool allocates nothing.
type ranger interface{ run(lo, hi int) }

// pool runs the non-gemm loops of the layers on a fixed set of goroutines.
//
// A call to do cuts [0, n) into fixed chunks (chunksPerThread per thread)
// that the caller and the helpers claim one at a time. The layers make
// every index's result independent of the chunk it falls in and of who runs
// it, so the thread count never changes a result. Claiming means the caller
// never waits for a helper to wake: in these VMs a parked goroutine whose
// core went idle takes 50 to 500 µs to wake, longer than most loops here,
// and a helper that wakes late finds the work done. A helper polls for new
// work for helperSpin after each job (yielding, so gemm's goroutines run)
// before it parks.
type pool struct {
	mu      sync.Mutex // one do at a time
	threads int
	helpers []*helper

	// The current job. word packs the job's generation (bits 40+), its
	// chunk count (bits 20-39) and the next chunk to claim (bits 0-19);
	// job and n are written before word publishes them.
	job      ranger
	n        int
	word     atomic.Uint64
	finished atomic.Int32 // chunks done
	quit     atomic.Bool
}

const (
	chunksPerThread = 4
	chunkBits       = 20
	chunkMask       = 1<<chunkBits - 1
)

var helperSpin = 50 * time.Microsecond

// helper is one goroutine of the pool.
type helper struct {
	gen    atomic.Uint64 // bumped to call this helper (for a job, or to stop)
	parked atomic.Bool
	wake   chan struct{} // capacity 1: a token for a parked helper
}

var thePool = newPool(1)

func newPool(threads int) *pool {
	p := &pool{threads: threads}
	for i := 1; i < threads; i++ {
		h := &helper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.loop(h)
	}
	return p
}

func (p *pool) loop(h *helper) {
	var seen uint64
	for {
		seen = p.await(h, seen)
		if p.quit.Load() {
			return
		}
		p.claim(p.word.Load() >> (2 * chunkBits))
	}
}

// claim runs chunks of job generation gen until none is left.
func (p *pool) claim(gen uint64) {
	for {
		w := p.word.Load()
		cut, q := int(w>>chunkBits&chunkMask), int(w&chunkMask)
		if w>>(2*chunkBits) != gen || q >= cut {
			return
		}
		if !p.word.CompareAndSwap(w, w+1) {
			continue
		}
		if lo, hi := q*p.n/cut, (q+1)*p.n/cut; lo < hi {
			p.job.run(lo, hi)
		}
		p.finished.Add(1)
	}
}

// await returns when h.gen moves past seen: it polls for helperSpin, then
// parks.
func (p *pool) await(h *helper, seen uint64) uint64 {
	var start time.Time
	for i := 0; ; i++ {
		if g := h.gen.Load(); g != seen {
			return g
		}
		if i%64 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > helperSpin {
				break
			}
		}
		runtime.Gosched()
	}
	h.parked.Store(true)
	if g := h.gen.Load(); g != seen {
		if !h.parked.CompareAndSwap(true, false) {
			<-h.wake // the caller saw us parked and sent a token: take it
		}
		return g
	}
	<-h.wake
	return h.gen.Load()
}

// call bumps the generation of helpers[:k], waking those parked.
func (p *pool) call(k int) {
	for _, h := range p.helpers[:k] {
		h.gen.Add(1)
		if h.parked.CompareAndSwap(true, false) {
			h.wake <- struct{}{}
		}
	}
}

// stop ends the helper goroutines.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quit.Store(true)
	p.call(len(p.helpers))
}

// do runs job over [0, n), in parallel if there are at least minPer items
// per chunk for two chunks.
func (p *pool) do(n, minPer int, job ranger) {
	if n <= 0 {
		return
	}
	cut := chunksPerThread * p.threads
	if minPer > 0 && n/minPer < cut {
		cut = n / minPer
	}
	if p.threads <= 1 || cut <= 1 {
		job.run(0, n)
		return
	}
	p.mu.Lock()
	p.job, p.n = job, n
	p.finished.Store(0)
	gen := p.word.Load()>>(2*chunkBits) + 1
	p.word.Store(gen<<(2*chunkBits) | uint64(cut)<<chunkBits)
	p.call(min(len(p.helpers), cut-1))
	p.claim(gen)
	// Chunks still running belong to helpers that are running them.
	for p.finished.Load() < int32(cut) {
		runtime.Gosched()
	}
	p.job = nil
	p.mu.Unlock()
}

var poolMu sync.Mutex

// SetThreads sets how many threads a model uses: gemm's goroutines per
// multiply (gemm.SetThreads) and the pool that runs the other loops. n <= 0
// means GOMAXPROCS. Results do not depend on it (see the package doc). It
// must not be called during a Forward or Backward.
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
