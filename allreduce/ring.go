package allreduce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Tag names one operation. Gen must be the generation the Ring is
// configured with; Step is carried by every message and must be the same on
// every rank (the training step, or any number the ranks agree on).
type Tag struct {
	// Gen is the membership generation of the operation.
	Gen uint64
	// Step is the operation's step; several operations may share a step.
	Step uint64
}

// Errors of the Ring, beside the transport errors it passes on.
var (
	// ErrBusy: Start, AllReduce or Configure while an operation is in flight.
	ErrBusy = errors.New("allreduce: an operation is in flight")
	// ErrAborted: an operation of this generation failed before; the ranks'
	// message streams are no longer in step, so the generation is done.
	// Configure a new one.
	ErrAborted = errors.New("allreduce: generation aborted; configure a new one")
	// ErrProtocol: a peer sent a message that does not fit the schedule
	// (another step, segment, size or kind): the ranks disagree on the
	// buffer length, the Config, or the order of operations. Wrapped in a
	// *PeerError naming the sender.
	ErrProtocol = errors.New("allreduce: protocol error")
	// ErrIncomplete: Wait before the buckets added up to the total given to
	// Start.
	ErrIncomplete = errors.New("allreduce: Wait before every element was submitted")
)

// Ring sums float32 buffers across the ranks of a generation with a ring
// all-reduce: a reduce-scatter, then an all-gather, each cut into segments
// that are sent, received and reduced in a pipeline (see plan.go). It
// drives one Transport and is the only user of it.
//
// Guarantees, for an operation that succeeds on every rank:
//   - every rank ends with bitwise the same buffer;
//   - the result is a pure function of the inputs, n and the Config, given
//     exactly by NaiveSum: element i is summed in ring order starting at
//     rank (i/block) mod n, never in arrival order, so the same inputs give
//     the same bits run after run;
//   - a bucketed operation (Start/Submit/Wait) gives the same bits as one
//     AllReduce of the buckets' concatenation;
//   - in the steady state (same sizes and buckets as the call before) it
//     allocates nothing.
//
// Failures. If ctx is cancelled, a peer is lost, or a peer sends something
// unexpected, the rank that notices fails its operation and sends an abort
// to its ring successor, which fails and forwards it: every rank's operation
// ends within about 100 ms with an error naming the peer to blame (a
// *PeerError, or ctx.Err() on the rank whose ctx ended; errors.Is finds
// ErrPeerLost, ErrPeerAborted, ErrFutureGeneration or ErrProtocol). A rank
// that had already received its last segment may return success while
// others fail; its buffer is then complete and correct, and its next
// operation in the generation fails on the abort waiting for it. After a
// failure the buffer's contents are unspecified, the generation is spent
// (further operations fail with ErrAborted) and the Ring is ready for
// Configure with a new generation. Messages of the spent generation still in
// flight are dropped by the transports, never summed.
//
// A Ring runs one operation at a time. Configure, Start/AllReduce and Close
// may be called from different goroutines (they are serialised); the
// methods of one Op follow the rules on Op.
type Ring struct {
	t        Transport
	cfg      Config
	log      *slog.Logger
	segElems int

	mu         sync.Mutex
	m          Membership
	configured bool
	aborted    error // why the current generation failed
	busy       bool
	closed     bool
	started    bool
	quit       chan struct{}
	wg         sync.WaitGroup
	aborting   sync.WaitGroup // an abort of the last operation is being sent

	op                   Op // the operation in flight, reused
	sendq, recvq, superq chan *Op
	sendBuf, recvBuf     []float32 // scratch: encoded segment, received payload
}

// New returns a Ring over t. It panics if cfg is invalid (a caller bug).
// Configure it before the first operation; Close it when done (closing the
// Ring does not close t).
func New(t Transport, cfg Config) *Ring {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	words := (max(cfg.SegmentBytes, maxAbortPayload) + 3) / 4
	r := &Ring{
		t:        t,
		cfg:      cfg,
		log:      log,
		segElems: cfg.SegmentBytes / cfg.Wire.Size(),
		quit:     make(chan struct{}),
		sendq:    make(chan *Op),
		recvq:    make(chan *Op),
		superq:   make(chan *Op),
		sendBuf:  make([]float32, words),
		recvBuf:  make([]float32, words),
	}
	r.op.init(r)
	return r
}

// Configure moves the Ring and its Transport to generation m (see
// Transport.Configure). It fails with ErrBusy while an operation is in
// flight: cancel it and Wait first.
func (r *Ring) Configure(ctx context.Context, m Membership) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return ErrClosed
	case r.busy:
		return ErrBusy
	}
	r.aborting.Wait()
	if err := r.t.Configure(ctx, m); err != nil {
		return fmt.Errorf("allreduce: configure generation %d: %w", m.Gen, err)
	}
	m.Peers = append([]string(nil), m.Peers...)
	r.m, r.configured, r.aborted = m, true, nil
	return nil
}

// Membership returns (a copy of) the current generation, zero before
// Configure.
func (r *Ring) Membership() Membership {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	m.Peers = append([]string(nil), m.Peers...)
	return m
}

// AllReduce replaces buf, on every rank, with the element-wise sum of the
// bufs of all ranks, which must have the same length. It is
// Start(ctx, tag, len(buf)), Submit(buf), Wait().
func (r *Ring) AllReduce(ctx context.Context, tag Tag, buf []float32) error {
	op := r.Start(ctx, tag, len(buf))
	op.Submit(buf)
	return op.Wait()
}

// Start begins a bucketed operation over total elements: Submit the buckets,
// whose lengths add up to total, in the same order on every rank, as they
// become ready, then Wait. The ring reduces each bucket in the background
// while the caller computes the next one. Errors (closed Ring, wrong
// generation, ErrBusy, ...) are reported by Wait. It panics if total < 0.
func (r *Ring) Start(ctx context.Context, tag Tag, total int) *Op {
	if total < 0 {
		panic(fmt.Sprintf("allreduce: Start with total %d", total))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	switch {
	case r.closed:
		err = ErrClosed
	case !r.configured:
		err = ErrNotConfigured
	case tag.Gen != r.m.Gen:
		err = fmt.Errorf("%w: operation tagged %d, configured %d", ErrStaleGeneration, tag.Gen, r.m.Gen)
	case r.aborted != nil:
		err = fmt.Errorf("%w: %w", ErrAborted, r.aborted)
	case r.busy:
		err = ErrBusy
	}
	if err != nil {
		return &Op{dead: true, err: fmt.Errorf("allreduce: gen %d step %d: %w", tag.Gen, tag.Step, err)}
	}
	r.aborting.Wait()
	r.busy = true
	o := &r.op
	o.reset(ctx, tag, total, &r.m, blockSize(total, r.m.Size(), r.segElems))
	if r.m.Size() == 1 {
		o.single = true
		return o
	}
	if !r.started {
		r.started = true
		r.wg.Add(3)
		go r.sendLoop()
		go r.recvLoop()
		go r.superLoop()
	}
	r.sendq <- o
	r.recvq <- o
	r.superq <- o
	return o
}

// finish records the end of the operation in flight.
func (r *Ring) finish(o *Op, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = false
	if err != nil && o.tag.Gen == r.m.Gen {
		r.aborted = err
		r.log.Warn("allreduce: operation failed", "gen", o.tag.Gen, "step", o.tag.Step, "rank", o.rank, "err", err)
	}
}

// Close fails the operation in flight with ErrClosed and stops the Ring's
// goroutines. It does not close the Transport. Safe to call more than once.
func (r *Ring) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.busy && !r.op.single {
		r.op.fail(r.op.rank, abortOther, ErrClosed)
	}
	started := r.started
	r.mu.Unlock()
	if started {
		close(r.quit)
		r.wg.Wait()
	}
	r.aborting.Wait()
	return nil
}

// superLoop ends each operation: on ctx's end it fails it, and once both
// loops are done it hands the operation back to Wait.
func (r *Ring) superLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		case o := <-r.superq:
			select {
			case <-o.parent.Done():
				o.fail(o.rank, abortCanceled, o.parent.Err())
				<-o.loopsDone
			case <-o.loopsDone:
			}
			o.finished <- struct{}{}
		}
	}
}

func (r *Ring) sendLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		case o := <-r.sendq:
			o.runSend()
			o.loopExit()
		}
	}
}

func (r *Ring) recvLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		case o := <-r.recvq:
			o.runRecv()
			o.loopExit()
		}
	}
}
