package grpctransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/grpctransport/ringpb"
)

// mdAddr is the metadata key carrying the sender's address (Transport.Addr)
// on every call: it tells the receiver which peer a message is from.
const mdAddr = "craft-ring-addr"

// minClientKeepalive is gRPC's floor for a client's keepalive time.
const minClientKeepalive = 10 * time.Second

// peer is the connection to one peer address: a gRPC ClientConn, the data
// stream to it (opened on the first data message and kept across
// generations; Send writes it in the caller's goroutine), and the goroutine
// that watches the connection. A peer dies once: its connection breaks or
// its stream fails; Configure replaces a dead peer with a new one.
type peer struct {
	t      *Transport
	addr   string
	cc     *grpc.ClientConn
	client ringpb.RingClient
	ctx    context.Context // carries mdAddr and mdAuth; cancelled by close
	cancel context.CancelFunc

	// sendMu serialises Send (one sender per peer, by the contract) with
	// the end of the stream in Close; it guards st, stCancel and out.
	sendMu   sync.Mutex
	st       grpc.ClientStreamingClient[ringpb.Frame, ringpb.Closed]
	stCancel context.CancelFunc
	out      outFrame
	hdr      []byte    // header of the zero-copy frame in flight
	payload  []byte    // the zero-copy payload in flight
	release  *releaser // tells when gRPC let go of payload

	dead  chan struct{} // closed by fail
	mu    sync.Mutex
	cause error
}

// newPeer starts connecting to addr. t.mu held.
func (t *Transport) newPeer(addr string) *peer {
	cfg := t.cfg
	md := []string{mdAddr, t.addr}
	if t.auth != "" {
		md = append(md, mdAuth, t.auth)
	}
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), md...))
	p := &peer{
		t:       t,
		addr:    addr,
		ctx:     ctx,
		cancel:  cancel,
		dead:    make(chan struct{}),
		hdr:     make([]byte, 0, maxHeaderLen),
		release: newReleaser(),
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy(),
		grpc.WithContextDialer(t.dial),
		// No replay buffer for transparent retries: it would hold the
		// zero-copy payloads (and so Send) until the server answers.
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(t.codec), grpc.MaxCallRecvMsgSize(4<<10), grpc.MaxRetryRPCBufferSize(0)),
		grpc.WithInitialWindowSize(cfg.StreamWindowBytes),
		grpc.WithInitialConnWindowSize(cfg.ConnWindowBytes),
		grpc.WithWriteBufferSize(cfg.WriteBufferBytes),
		grpc.WithReadBufferSize(cfg.ReadBufferBytes),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                max(cfg.KeepaliveTime, minClientKeepalive),
			Timeout:             cfg.KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithIdleTimeout(0),
		experimental.WithBufferPool(t.recv),
		grpc.WithDisableRetry(),
	)
	if err != nil {
		// Only a malformed target fails here; the peer is dead from the start.
		p.fail(fmt.Errorf("dial: %w", err))
		return p
	}
	p.cc, p.client = cc, ringpb.NewRingClient(cc)
	cc.Connect()
	t.wg.Add(1)
	go p.watch()
	return p
}

// fail marks the peer dead with cause (the first cause wins).
func (p *peer) fail(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cause == nil {
		p.cause = cause
		close(p.dead)
	}
}

func (p *peer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

func (p *peer) isDead() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// flushTimeout bounds how long Close waits for the messages queued to a
// peer to reach it.
const flushTimeout = time.Second

// close stops the peer's goroutines and its connection.
func (p *peer) close() {
	p.fail(errors.New("connection closed locally"))
	p.cancel()
	if p.cc != nil {
		p.cc.Close()
	}
}

// watch marks the peer dead when its connection fails: a connection that
// was ready and is no longer, or one that cannot be made.
func (p *peer) watch() {
	defer p.t.wg.Done()
	ready := false
	for {
		s := p.cc.GetState()
		switch s {
		case connectivity.Ready:
			ready = true
		case connectivity.TransientFailure:
			p.fail(errors.New("connection failed"))
			return
		case connectivity.Idle:
			if ready {
				p.fail(errors.New("connection closed"))
				return
			}
			p.cc.Connect()
		case connectivity.Shutdown:
			return
		}
		if !p.cc.WaitForStateChange(p.ctx, s) {
			return
		}
	}
}

// zeroCopyMin is the smallest payload Send hands to gRPC in place, without
// copying it; smaller ones are copied into a pooled frame buffer.
const zeroCopyMin = 16 << 10

// releaseGrace bounds the wait for gRPC to let go of a payload after a
// failure or a cancellation (see waitRelease); it fits in the 100 ms within
// which a cancelled Send must return. deadGrace is the shorter bound once
// the connection is known dead: its writer exits within microseconds.
const (
	releaseGrace = 60 * time.Millisecond
	deadGrace    = 10 * time.Millisecond
)

// send writes one data frame to the peer's stream, opening the stream first
// if needed, in the caller's goroutine (no hand-off to another). A payload
// of zeroCopyMin bytes or more is not copied: gRPC's writer copies it
// straight into the connection's write buffer, and send returns once it has
// (the payload is then free again, as Send promises). Because of that wait,
// gRPC's own send quota never blocks SendMsg; send blocks only in its own
// select, on flow control, so it can honour ctx: when ctx ends the stream is
// cancelled (which makes gRPC let go of the payload), and the next send
// opens a new stream. The receiver keeps what arrived; a cancelled stream is
// not a lost peer.
func (p *peer) send(ctx context.Context, h frameHeader, payload []byte) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if p.isDead() {
		return errPeerDead
	}
	if p.st == nil {
		if err := p.openStream(ctx); err != nil {
			return err
		}
	}
	zeroCopy := len(payload) >= zeroCopyMin
	if zeroCopy {
		p.hdr = appendHeader(p.hdr[:0], h, len(payload))
		p.payload = payload[:len(payload):len(payload)]
		p.out.bufs = append(p.out.bufs[:0], mem.SliceBuffer(p.hdr), mem.NewBuffer(&p.payload, p.release))
	} else {
		p.out.bufs = append(p.out.bufs[:0], encodeFrame(p.t.pool, h, payload))
	}
	err := p.st.SendMsg(&p.out)
	if p.out.bufs != nil { // not handed to gRPC
		p.out.bufs.Free()
		p.out.bufs = nil
	}
	if err != nil {
		if zeroCopy {
			p.waitRelease(releaseGrace)
		}
		p.payload = nil
		if p.t.isClosed() {
			p.resetStream()
			return allreduce.ErrClosed
		}
		if errors.Is(err, io.EOF) { // the stream ended: why?
			if err = p.st.RecvMsg(new(ringpb.Closed)); err == nil {
				err = errors.New("stream closed by peer")
			}
		}
		p.resetStream()
		p.fail(describe(err))
		return errPeerDead
	}
	if !zeroCopy {
		return nil
	}
	defer func() { p.payload = nil }()
	select {
	case <-p.release.done:
		return nil
	case <-ctx.Done():
		p.resetStream() // gRPC drops the frame and lets go of the payload
		p.waitRelease(releaseGrace)
		return ctx.Err()
	case <-p.t.closed:
		p.resetStream()
		p.waitRelease(releaseGrace)
		return allreduce.ErrClosed
	case <-p.dead:
		p.resetStream()
		p.waitRelease(deadGrace)
		return errPeerDead
	}
}

// openStream opens the data stream. p.sendMu held.
func (p *peer) openStream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(p.ctx)
	type result struct {
		st  grpc.ClientStreamingClient[ringpb.Frame, ringpb.Closed]
		err error
	}
	// Opening waits for the connection; do it aside so ctx can interrupt.
	res := make(chan result, 1)
	go func() {
		st, err := p.client.Stream(sctx)
		res <- result{st, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		cancel()
		<-res
		return ctx.Err()
	}
	if r.err != nil {
		cancel()
		if p.t.isClosed() {
			return allreduce.ErrClosed
		}
		p.fail(describe(r.err))
		return errPeerDead
	}
	p.st, p.stCancel = r.st, cancel
	return nil
}

// waitRelease waits until gRPC lets go of the payload in flight, for at
// most limit: a live connection's writer drops a cancelled stream's data at
// once, and a dead connection's writer exits within microseconds. Only a
// writer blocked on a peer that stopped reading (not dead, not draining its
// socket) outlasts limit; the payload is then abandoned to it (the stream is
// cancelled, so its bytes never count), and a fresh releaser serves the next
// frame. p.sendMu held.
func (p *peer) waitRelease(limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.release.done:
	case <-t.C:
		p.release = newReleaser()
		p.hdr = make([]byte, 0, maxHeaderLen) // the old one may still be read
	}
}

// releaser is the mem.BufferPool of a zero-copy payload: gRPC "returns" the
// payload when it no longer needs it, which is the signal send waits for.
type releaser struct{ done chan struct{} }

func newReleaser() *releaser { return &releaser{done: make(chan struct{}, 1)} }

func (r *releaser) Get(n int) *[]byte { b := make([]byte, n); return &b }

// Put never blocks (it runs in gRPC's writer).
func (r *releaser) Put(*[]byte) {
	select {
	case r.done <- struct{}{}:
	default:
	}
}

// errPeerDead tells Send to report the peer's cause of death.
var errPeerDead = errors.New("peer dead")

// resetStream cancels the stream; the next send opens a new one. p.sendMu held.
func (p *peer) resetStream() {
	if p.stCancel != nil {
		p.stCancel()
	}
	p.st, p.stCancel = nil, nil
}

// endStream half-closes the stream and waits, until ctx ends, for the
// receiver's answer: then every frame sent before is queued at the
// receiver. A Send in progress is cut off instead.
func (p *peer) endStream(ctx context.Context) {
	if !p.sendMu.TryLock() {
		p.cancel() // unblocks the Send, which sees the transport closed
		return
	}
	defer p.sendMu.Unlock()
	if p.st == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.st.CloseSend(); err == nil {
			p.st.RecvMsg(new(ringpb.Closed))
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		p.stCancel()
		<-done
	}
	p.resetStream()
}

// sendAbort sends an abort message as a unary call: it has its own stream,
// so it neither waits behind nor for the data stream's flow control.
func (t *Transport) sendAbort(ctx context.Context, to int, p *peer, h frameHeader, payload []byte) error {
	if p.isDead() {
		return t.lost(to, p.err())
	}
	// The call runs on a context of our own (p.ctx carries the sender's
	// address), never on the caller's: gRPC watches its context from other
	// goroutines, and the Ring reuses its operation contexts. The caller's
	// ctx is watched here instead.
	fr := &ringpb.Frame{Run: h.Run, Generation: h.Generation, Step: h.Step, Sender: h.Sender, Segment: h.Segment, Kind: h.Kind, Payload: payload}
	cctx, cancel := context.WithTimeout(p.ctx, abortTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.client.Abort(cctx, fr)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("grpctransport: abort to rank %d (%s): %w", to, p.addr, ctx.Err())
	}
	if err != nil {
		if t.isClosed() {
			return allreduce.ErrClosed
		}
		return t.lost(to, describe(err))
	}
	return nil
}

// abortTimeout bounds an abort call whose caller set no deadline.
const abortTimeout = 5 * time.Second

// describe turns a gRPC error into a plain one (status codes stay in this
// package).
func describe(err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	if s.Code() == codes.Unavailable || s.Code() == codes.Canceled {
		return fmt.Errorf("connection lost: %s", s.Message())
	}
	return fmt.Errorf("%s: %s", s.Code(), s.Message())
}
