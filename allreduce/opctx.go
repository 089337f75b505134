package allreduce

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// opCtx is the context.Context an operation passes to its Transport calls.
// It is done when the operation fails, for whatever reason (the caller's ctx
// ending reaches it through the Ring's supervisor goroutine); it has no
// deadline and no values.
//
// A Ring reuses its opCtx from one successful operation to the next, so that
// an operation allocates nothing; once done, an opCtx is retired and never
// reused, since a transport may still hold it. It implements the AfterFunc
// method package context looks for, so that context.AfterFunc and
// context.WithCancel on it start no goroutine that could outlive the call.
type opCtx struct {
	done  chan struct{}
	fired atomic.Bool

	mu    sync.Mutex
	slots [afterSlots]afterSlot // registrations by AfterFunc, reused
	funcs []ctxFunc             // registrations beyond the slots
	next  uint64
}

// afterSlots is how many AfterFunc registrations an opCtx holds at once
// without allocating: a transport registers one per blocked Send or Recv,
// and an operation runs a few of those at a time.
const afterSlots = 16

// afterSlot is one registration: f, while used, and the stop function that
// undoes it, made once with the opCtx so that AfterFunc allocates nothing.
type afterSlot struct {
	f    func()
	used bool
	stop func() bool
}

type ctxFunc struct {
	id uint64
	f  func()
}

func newOpCtx() *opCtx {
	c := &opCtx{done: make(chan struct{})}
	for i := range c.slots {
		c.slots[i].stop = func() bool { return c.stopSlot(i) }
	}
	return c
}

// stopSlot undoes the registration in slot i, if it has not run.
func (c *opCtx) stopSlot(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[i]
	if !s.used {
		return false
	}
	s.f, s.used = nil, false
	return true
}

var _ context.Context = (*opCtx)(nil)

func (c *opCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *opCtx) Done() <-chan struct{}       { return c.done }
func (c *opCtx) Value(any) any               { return nil }

func (c *opCtx) Err() error {
	if c.fired.Load() {
		return context.Canceled
	}
	return nil
}

func (c *opCtx) isDone() bool { return c.fired.Load() }

// AfterFunc arranges for f to run in its own goroutine once c is done; stop
// cancels that and reports whether it did. (See context.AfterFunc.) Unlike
// context.AfterFunc's, stop must be called at most once: the slot it frees
// may serve the next registration. It allocates nothing while at most
// afterSlots registrations are pending.
func (c *opCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.fired.Load() {
		c.mu.Unlock()
		go f()
		return stopped
	}
	for i := range c.slots {
		if s := &c.slots[i]; !s.used {
			s.f, s.used = f, true
			c.mu.Unlock()
			return s.stop
		}
	}
	c.next++
	id := c.next
	c.funcs = append(c.funcs, ctxFunc{id: id, f: f})
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, e := range c.funcs {
			if e.id == id {
				c.funcs = append(c.funcs[:i], c.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel makes c done and runs the functions registered with AfterFunc.
func (c *opCtx) cancel() {
	c.mu.Lock()
	if c.fired.Load() {
		c.mu.Unlock()
		return
	}
	c.fired.Store(true)
	close(c.done)
	funcs := c.funcs
	c.funcs = nil
	for i := range c.slots {
		if s := &c.slots[i]; s.used {
			funcs = append(funcs, ctxFunc{f: s.f})
			s.f, s.used = nil, false
		}
	}
	c.mu.Unlock()
	for _, e := range funcs {
		go e.f()
	}
}

// stopped is the stop function of a registration that already ran.
func stopped() bool { return false }
