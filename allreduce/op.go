package allreduce

import (
	"context"
	"encoding/binary"
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

// failure is the first reason an operation failed.
type failure struct {
	culprit  int
	code     byte
	err      error
	nextGone bool // Send to the successor failed with ErrPeerLost: no abort to send
}

// Codes carried by an abort message, saying what happened to the culprit.
const (
	abortOther byte = iota
	abortLost
	abortCanceled
	abortFuture
	abortProtocol
	abortClosed
)

// maxAbortPayload bounds an abort message: culprit, code, reason.
const maxAbortPayload = 256

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

// bucketAt waits for bucket i; ok=false when there is none to come or the
// operation failed.
func (o *Op) bucketAt(i int, wake chan struct{}) (bucket, bool) {
	for {
		o.mu.Lock()
		if i < len(o.buckets) {
			b := o.buckets[i]
			o.mu.Unlock()
			return b, true
		}
		all := o.submitted == o.total
		o.mu.Unlock()
		if all {
			return bucket{}, false
		}
		select {
		case <-wake:
		case <-o.octx.done:
			return bucket{}, false
		}
	}
}

// runSend sends every message of the operation to the ring successor.
func (o *Op) runSend() {
	r, n, w := o.r, o.n, o.r.cfg.Wire
	ws := w.Size()
	h := Header{Kind: KindData, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.rank)}
	for bi := 0; ; bi++ {
		b, ok := o.bucketAt(bi, o.sendKick)
		if !ok {
			return
		}
		S := b.steps
		for k := 0; k < 2*(n-1); k++ {
			c := ((o.rank-k)%n + n) % n
			for s := 0; s < S; s++ {
				lo, hi, ok := b.segment(c, s, n, o.block)
				if !ok {
					continue
				}
				slot := b.base + int64(k*S+s)
				if k > 0 && !o.waitRecv(slot-int64(S)+1) {
					return
				}
				seg := b.buf[lo:hi]
				var payload []byte
				if w == WireFloat32 && littleEndian {
					payload = bytesOf(seg)
				} else {
					payload = bytesOf(r.sendBuf)[:ws*len(seg)]
					encode(w, payload, seg)
				}
				h.Seg = uint32(slot)
				if err := r.t.Send(o.octx, o.next, h, payload); err != nil {
					o.failTransportLink(o.next, err, true)
					return
				}
			}
		}
	}
}

// waitRecv waits until the receiver has processed slot need-1.
func (o *Op) waitRecv(need int64) bool {
	for o.recvDone.Load() < need {
		select {
		case <-o.progress:
		case <-o.octx.done:
			return false
		}
	}
	return true
}

// runRecv receives every message of the operation from the ring predecessor
// and reduces (steps < n-1) or copies (later steps) it into the buffer.
func (o *Op) runRecv() {
	r, n, w := o.r, o.n, o.r.cfg.Wire
	scratch := bytesOf(r.recvBuf)
	lender, _ := r.t.(Lender)
	o.want = Header{Kind: KindData, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.prev)}
	for bi := 0; ; bi++ {
		b, ok := o.bucketAt(bi, o.recvKick)
		if !ok {
			return
		}
		S := b.steps
		for k := 0; k < 2*(n-1); k++ {
			c := ((o.rank-1-k)%n + n) % n
			for s := 0; s < S; s++ {
				lo, hi, ok := b.segment(c, s, n, o.block)
				if !ok {
					continue
				}
				slot := b.base + int64(k*S+s)
				o.seg, o.segStep, o.want.Seg = b.buf[lo:hi], k, uint32(slot)
				var err error
				switch {
				case k >= n-1 && w == WireFloat32 && littleEndian && 4*(hi-lo) >= maxAbortPayload:
					// All-gather segments of float32 land in the buffer
					// directly (one copy less); the room fits an abort.
					dst := bytesOf(o.seg)
					var h Header
					var size int
					if h, size, err = r.t.Recv(o.octx, o.prev, dst); err == nil {
						o.direct = true
						err = o.apply(h, dst[:size])
						o.direct = false
					}
				case lender != nil:
					err = lender.RecvLend(o.octx, o.prev, o.applyFn)
				default:
					var h Header
					var size int
					if h, size, err = r.t.Recv(o.octx, o.prev, scratch); err == nil {
						err = o.apply(h, scratch[:size])
					}
				}
				if err != nil {
					if err != errStop {
						o.failTransport(o.prev, err)
					}
					return
				}
				o.recvDone.Store(slot + 1)
				kick(o.progress)
			}
		}
	}
}

// errStop: apply failed the operation itself.
var errStop = errors.New("allreduce: operation failed")

// apply checks the received message (h, p) against the slot runRecv
// expects (o.want, o.seg, o.segStep) and reduces or copies it into o.seg. It
// returns errStop after failing the operation (abort, protocol error).
func (o *Op) apply(h Header, p []byte) error {
	if h.Kind == KindAbort {
		o.failAbort(h, p)
		return errStop
	}
	w := o.r.cfg.Wire
	if want := w.Size() * len(o.seg); h != o.want || len(p) != want {
		o.fail(o.prev, abortProtocol, &PeerError{Rank: o.prev, Addr: o.peers[o.prev],
			Err: fmt.Errorf("%w: got %v with %d bytes; want %v with %d", ErrProtocol, h, len(p), o.want, want)})
		return errStop
	}
	switch k, n := o.segStep, o.n; {
	case o.direct:
	case k < n-2:
		decodeAdd(w, o.seg, p)
	case k == n-2: // the sum is complete here: round it as the others will see it
		decodeAdd(w, o.seg, p)
		quantize(w, o.seg)
	default:
		decodeCopy(w, o.seg, p)
	}
	return nil
}

// failAbort turns an abort message from the predecessor into the failure.
func (o *Op) failAbort(h Header, p []byte) {
	culprit, code, reason := decodeAbort(p)
	if culprit < 0 || culprit >= o.n {
		culprit = int(h.From)
	}
	err := &abortError{cause: abortCause(code), reason: reason}
	o.fail(culprit, code, &PeerError{Rank: culprit, Addr: o.peers[culprit], Err: err})
}

// abortError is a failure reported by an abort message. It wraps
// ErrPeerAborted and the sentinel of what happened to the culprit.
type abortError struct {
	cause  error
	reason string // "rank R: what rank R saw"
}

func (e *abortError) Error() string { return "operation aborted by the ring: " + e.reason }

func (e *abortError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrPeerAborted}
	}
	return []error{ErrPeerAborted, e.cause}
}

func abortCause(code byte) error {
	switch code {
	case abortLost, abortClosed:
		return ErrPeerLost
	case abortFuture:
		return ErrFutureGeneration
	case abortProtocol:
		return ErrProtocol
	}
	return nil
}

// abortSender returns the sending of the abort that tells the successor the
// operation failed, unless Send to
// it already failed for want of it. (A successor blamed second-hand, or
// lost on the receiving side only, is told anyway: it may be alive behind a
// broken link, and must not wait for this rank at its next operation.)
func (o *Op) abortSender() func() {
	f := o.firstFailure()
	if f.nextGone {
		return func() {}
	}
	// The reason names the rank that saw the failure; forwarders pass it on.
	var reason string
	var ae *abortError
	var pe *PeerError
	switch {
	case errors.As(f.err, &ae):
		reason = ae.reason
	case errors.As(f.err, &pe) && pe.Rank == f.culprit:
		reason = fmt.Sprintf("rank %d: %v", o.rank, pe.Err) // the receiver names the culprit itself
	default:
		reason = fmt.Sprintf("rank %d: %v", o.rank, f.err)
	}
	p := encodeAbort(make([]byte, 0, maxAbortPayload), f.culprit, f.code, reason)
	h := Header{Kind: KindAbort, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.rank)}
	t, next, timeout := o.r.t, o.next, o.r.cfg.AbortTimeout
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = t.Send(ctx, next, h, p) // best effort: the successor may be gone too
	}
}

// encodeAbort writes the abort payload: culprit rank (uint32 LE), code,
// reason (truncated).
func encodeAbort(dst []byte, culprit int, code byte, reason string) []byte {
	p := dst[:5]
	binary.LittleEndian.PutUint32(p, uint32(culprit))
	p[4] = code
	if len(reason) > maxAbortPayload-5 {
		reason = reason[:maxAbortPayload-5]
	}
	return append(p, reason...)
}

func decodeAbort(p []byte) (culprit int, code byte, reason string) {
	if len(p) < 5 {
		return -1, abortOther, "malformed abort"
	}
	return int(binary.LittleEndian.Uint32(p)), p[4], string(p[5:])
}
