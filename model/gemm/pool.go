package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// freeList keeps values for reuse without ever dropping them (unlike
// sync.Pool, which empties at each GC and would make the next call fault in
// fresh pages). The single slot makes the common get/put one atomic swap.
type freeList[T any] struct {
	one  atomic.Pointer[T]
	mu   sync.Mutex
	more []*T
}

func (f *freeList[T]) get() *T {
	if x := f.one.Swap(nil); x != nil {
		return x
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.more); n > 0 {
		x := f.more[n-1]
		f.more = f.more[:n-1]
		return x
	}
	return new(T)
}

func (f *freeList[T]) put(x *T) {
	if f.one.CompareAndSwap(nil, x) {
		return
	}
	f.mu.Lock()
	f.more = append(f.more, x)
	f.mu.Unlock()
}

// job is one threaded Sgemm call, whose C is cut into parts (row or
// column ranges on tile boundaries), or one For loop, cut into chunks: the
// caller and its helpers claim the parts one by one.
type job struct {
	// Sgemm
	kn   *kernel
	p    problem
	cols bool // parts are column ranges (else row ranges)
	size int  // rows or columns per part
	// For
	body Ranger
	n    int

	parts int
	next  atomic.Int64 // the next part to claim
	// helpers counts the helpers still at work: the caller spins on it
	// before blocking on wg, which helpers mark after it.
	helpers atomic.Int64
	wg      sync.WaitGroup
}

// Spinning. In these VMs a parked goroutine whose core went idle takes 50
// to 500 µs to wake (the idle vCPU halts): longer than many calls. So a
// worker polls for its next job for workerSpin after each one, and a
// caller polls for its helpers (for about one part's time, at most
// callerSpin) before blocking. Both yield (runtime.Gosched) while polling,
// so other goroutines still run.
var (
	workerSpin = 200 * time.Microsecond
	callerSpin = 2 * time.Millisecond
)

var jobs freeList[job]

// worker is a helper goroutine with its own packing buffers. Workers are
// started on first need and live for the rest of the process.
type worker struct {
	jobs chan *job
	x    ctx
}

// pool holds the idle workers.
var pool struct {
	mu   sync.Mutex
	idle []*worker
}

func (w *worker) loop() {
	for {
		j := w.next()
		j.work(&w.x)
		pool.mu.Lock()
		pool.idle = append(pool.idle, w)
		pool.mu.Unlock()
		j.helpers.Add(-1)
		j.wg.Done() // j may be reused from here on
	}
}

// next returns the worker's next job, polling for workerSpin before
// blocking.
func (w *worker) next() *job {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case j := <-w.jobs:
			return j
		default:
		}
		if i%64 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > workerSpin {
				return <-w.jobs
			}
		}
		runtime.Gosched()
	}
}

// wait returns when every helper of j is done. A helper still at work
// holds one part, so the caller polls for about as long as its own parts
// took (at most callerSpin), then blocks: a helper whose thread another
// process has taken will need this core, not a caller spinning on it.
func (j *job) wait(part time.Duration) {
	limit := min(callerSpin, 2*part+20*time.Microsecond)
	var start time.Time
	for i := 0; j.helpers.Load() > 0; i++ {
		if i%64 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > limit {
				break
			}
		}
		runtime.Gosched()
	}
	j.wg.Wait()
}

// work claims parts of j until none is left; it returns how many it ran.
func (j *job) work(x *ctx) int {
	for n := 0; ; n++ {
		q := int(j.next.Add(1)) - 1
		if q >= j.parts {
			return n
		}
		if j.body != nil {
			j.body.Run(q*j.n/j.parts, (q+1)*j.n/j.parts)
			continue
		}
		lo := q * j.size
		if j.cols {
			x.block(j.kn, &j.p, 0, j.p.m, lo, min(lo+j.size, j.p.n))
		} else {
			x.block(j.kn, &j.p, lo, min(lo+j.size, j.p.m), 0, j.p.n)
		}
	}
}

// parallel runs p on the calling goroutine and up to t-1 helpers. C is cut
// into parts claimed one by one, small enough that a helper that wakes
// late, or whose core another process takes, holds back little work. Parts
// are single column panels when C has enough whole panels: then nothing is
// packed twice (A is read in place and each part packs its own columns of
// B); else about 4t row ranges, each of which packs all of op(B).
func parallel(kn *kernel, p *problem, t int) {
	j := jobs.get()
	j.kn, j.p = kn, *p
	panels := (p.n + kn.nr - 1) / kn.nr
	j.cols = panels >= t && (p.n%kn.nr == 0 || panels >= 4*t)
	total, unit := p.m, kn.mr
	if j.cols {
		total, unit = p.n, kn.nr
	}
	units := (total + unit - 1) / unit
	parts := units // one panel each
	if !j.cols {
		parts = min(4*t, units)
	}
	j.size = (units + parts - 1) / parts * unit
	j.parts = (total + j.size - 1) / j.size
	j.next.Store(0)
	j.run(t)
	j.kn, j.p = nil, problem{}
	jobs.put(j)
}

// run hands j to up to t-1 helpers, claims parts itself, and returns when
// all are done.
func (j *job) run(t int) {
	pool.mu.Lock()
	for range min(t, j.parts) - 1 {
		var w *worker
		if n := len(pool.idle); n > 0 {
			w = pool.idle[n-1]
			pool.idle = pool.idle[:n-1]
		} else {
			w = &worker{jobs: make(chan *job, 1)}
			go w.loop()
		}
		j.wg.Add(1)
		j.helpers.Add(1)
		w.jobs <- j // never blocks: an idle worker's channel is empty
	}
	pool.mu.Unlock()

	x := getCtx()
	start := time.Now()
	n := j.work(x)
	part := time.Since(start) / time.Duration(max(n, 1))
	putCtx(x)
	j.wait(part)
}

// Ranger is a loop body for For: Run computes the indices [lo, hi). A
// pointer to a long-lived struct holding the loop's arguments makes a call
// to For allocate nothing.
type Ranger interface{ Run(lo, hi int) }

// For runs r over [0, n) in c = min(Threads(), n/minPer) contiguous chunks,
// chunk i being [i·n/c, (i+1)·n/c), on the calling goroutine and c-1 of the
// helpers Sgemm uses; it returns when all are done. With one chunk it just
// calls r.Run(0, n). The chunks depend on the thread count alone.
//
// A program whose other parallel loops use For shares one set of spinning
// helpers with Sgemm: two pools would fight over the cores (a goroutine
// one pool wakes waits while the other pool's helper polls for work).
func For(n, minPer int, r Ranger) {
	if n <= 0 {
		return
	}
	c := Threads()
	if minPer > 0 && n/minPer < c {
		c = max(1, n/minPer)
	}
	if c <= 1 {
		r.Run(0, n)
		return
	}
	j := jobs.get()
	j.body, j.n, j.parts = r, n, c
	j.next.Store(0)
	j.run(c)
	j.body = nil
	jobs.put(j)
}
