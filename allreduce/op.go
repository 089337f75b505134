package allreduce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Op is one bucketed operation, returned by Ring.Start. Submit may be called
// from one goroutine at a time (typically the backward pass); Wait must be
// called exactly once, after the last Submit (the Ring is busy until then).
// An Op is valid until its Wait returns: the Ring reuses it for the next
// operation.
//
// Communication overlaps computation: each bucket is on the wire as soon as
// it is submitted, but a rank reduces what its predecessor sends for a bucket
// only once it has submitted that bucket itself, so the ring moves at the
// pace of the slowest rank's backward pass. A failure elsewhere is reported
// by Wait (not by Submit).
type Op struct {
	r      *Ring
	tag    Tag
	parent context.Context
	octx   *opCtx

	run          uint64
	n, rank      int
	next, prev   int
	peers        []string
	total, block int
	single, dead bool // n == 1; failed before it began
	err          error
	loops        atomic.Int32
	recvDone     atomic.Int64 // slots the receiver has processed (its next slot)
	sendKick     chan struct{}
	recvKick     chan struct{}
	progress     chan struct{} // the receiver moved on
	loopsDone    chan struct{} // the last loop ended (to superLoop)
	finished     chan struct{} // superLoop is done (to Wait)

	mu        sync.Mutex
	buckets   []bucket
	submitted int   // elements
	slots     int64 // message slots taken by the buckets so far

	// The receiver's current slot, for apply.
	want    Header
	seg     []float32
	segStep int
	direct  bool // the payload was received into seg
	applyFn func(Header, []byte) error

	failMu  sync.Mutex
	failure failure
	settled bool // both loops are done: the outcome is final
}

func (o *Op) init(r *Ring) {
	o.r = r
	o.sendKick = make(chan struct{}, 1)
	o.recvKick = make(chan struct{}, 1)
	o.progress = make(chan struct{}, 1)
	o.loopsDone = make(chan struct{}, 1)
	o.finished = make(chan struct{}, 1)
	o.octx = newOpCtx()
	o.applyFn = o.apply // bound once: no allocation per message
}

// reset prepares the reused Op for a new operation. r.mu held.
func (o *Op) reset(ctx context.Context, tag Tag, total int, m *Membership, block int) {
	if ctx == nil {
		ctx = context.Background()
	}
	o.tag, o.parent = tag, ctx
	o.run, o.n, o.rank, o.peers = m.Run, m.Size(), m.Rank, m.Peers
	o.next, o.prev = (m.Rank+1)%o.n, (m.Rank-1+o.n)%o.n
	o.total, o.block = total, block
	o.single, o.err = false, nil
	o.buckets, o.submitted, o.slots = o.buckets[:0], 0, 0
	o.recvDone.Store(0)
	o.loops.Store(2)
	o.failure, o.settled = failure{}, false
	if o.octx.isDone() {
		o.octx = newOpCtx() // a spent one is never reused: others may hold it
	}
	for _, c := range []chan struct{}{o.sendKick, o.recvKick, o.progress} {
		select {
		case <-c:
		default:
		}
	}
}

// Submit hands the next bucket of the buffer to the ring, which reduces it
// in place in the background; the caller must not touch bucket until Wait
// returns. Buckets are the consecutive parts of one logical buffer, in the
// same order and of the same lengths on every rank (lengths may be 0). It
// panics if the buckets exceed the total given to Start (a caller bug). After
// a failure it does nothing.
func (o *Op) Submit(bucket []float32) {
	if o.dead {
		return
	}
	o.mu.Lock()
	if o.submitted+len(bucket) > o.total {
		o.mu.Unlock()
		panic(fmt.Sprintf("allreduce: Submit of %d elements after %d of %d", len(bucket), o.submitted, o.total))
	}
	if !o.single {
		b := newBucket(bucket, o.submitted, o.block, o.n, o.slots)
		o.slots += b.slots(o.n)
		o.buckets = append(o.buckets, b)
	}
	o.submitted += len(bucket)
	o.mu.Unlock()
	kick(o.sendKick)
	kick(o.recvKick)
}

// Wait blocks until every bucket is reduced on this rank, or the operation
// failed, and returns the error (see Ring for the failure guarantees).
func (o *Op) Wait() error {
	if o.dead {
		return o.err
	}
	o.mu.Lock()
	short := o.submitted < o.total
	submitted := o.submitted
	o.mu.Unlock()
	var err error
	if o.single {
		if short {
			err = fmt.Errorf("%w: %d of %d", ErrIncomplete, submitted, o.total)
		}
	} else {
		if short {
			if err := o.parent.Err(); err != nil {
				o.fail(o.rank, abortCanceled, err)
			} else {
				o.fail(o.rank, abortOther, fmt.Errorf("%w: %d of %d", ErrIncomplete, submitted, o.total))
			}
		}
		<-o.finished
		if f := o.firstFailure(); f.err != nil {
			err = f.err
		}
		o.mu.Lock()
		for i := range o.buckets {
			o.buckets[i].buf = nil // let the caller's buffers go
		}
		o.seg = nil
		o.mu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("allreduce: gen %d step %d rank %d: %w", o.tag.Gen, o.tag.Step, o.rank, err)
	}
	o.r.finish(o, err)
	return err
}

// fail records the first failure and cancels the operation's context.
func (o *Op) fail(culprit int, code byte, err error) {
	o.failWith(failure{culprit: culprit, code: code, err: err})
}

func (o *Op) failWith(f failure) {
	o.failMu.Lock()
	first := o.failure.err == nil && !o.settled
	if first {
		o.failure = f
	}
	o.failMu.Unlock()
	if first {
		o.octx.cancel()
	}
}

func (o *Op) firstFailure() failure {
	o.failMu.Lock()
	defer o.failMu.Unlock()
	return o.failure
}

// failTransport classifies an error of Send (to next) or Recv (from prev).
func (o *Op) failTransport(peer int, err error) {
	o.failTransportLink(peer, err, false)
}

// failTransportLink is failTransport; toNext says the error came from Send
// to the successor.
func (o *Op) failTransportLink(peer int, err error, toNext bool) {
	if o.octx.isDone() {
		return // a consequence of the first failure
	}
	code := abortOther
	var pe *PeerError
	switch {
	case errors.Is(err, ErrClosed):
		o.fail(o.rank, abortClosed, err)
		return
	case errors.Is(err, ErrPeerLost):
		code = abortLost
	case errors.Is(err, ErrFutureGeneration):
		code = abortFuture
	case errors.Is(err, ErrMessageTooLarge):
		code = abortProtocol
	}
	if errors.As(err, &pe) {
		peer = pe.Rank
	} else {
		err = &PeerError{Rank: peer, Addr: o.peers[peer], Err: err}
	}
	o.failWith(failure{culprit: peer, code: code, err: err, nextGone: toNext && code == abortLost && peer == o.next})
}

// loopExit is called by each loop when it is done. The last one settles the
// operation: success, or failure told to the successor (now that no loop
// sends to it any more). A failure that comes after success (ctx ending just
// then) is ignored.
func (o *Op) loopExit() {
	if o.loops.Add(-1) > 0 {
		return
	}
	o.failMu.Lock()
	failed := o.failure.err != nil
	o.settled = true
	o.failMu.Unlock()
	if !failed {
		o.loopsDone <- struct{}{}
		return
	}
	// Wait returns at once; the abort goes out in the background, and the
	// Ring's next Start or Configure waits for it (at most AbortTimeout).
	o.r.aborting.Add(1)
	defer o.r.aborting.Done()
	send := o.abortSender()
	o.loopsDone <- struct{}{}
	send()
}
