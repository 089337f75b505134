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
// stream to it (opened on the first data message, kept across
// generations), the goroutine that writes the stream, and the goroutine
// that watches the connection. A peer dies once: its connection breaks or
// its stream fails; Configure replaces a dead peer with a new one.
type peer struct {
	t      *Transport
	addr   string
	cc     *grpc.ClientConn
	client ringpb.RingClient
	ctx    context.Context // carries mdAddr; cancelled by close
	cancel context.CancelFunc
	sendq  chan mem.Buffer // encoded data frames

	dead  chan struct{} // closed by fail
	mu    sync.Mutex
	cause error
}

// newPeer starts connecting to addr. t.mu held.
func (t *Transport) newPeer(addr string) *peer {
	cfg := t.cfg
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), mdAddr, t.addr))
	p := &peer{
		t:      t,
		addr:   addr,
		ctx:    ctx,
		cancel: cancel,
		sendq:  make(chan mem.Buffer, cfg.SendQueueMessages),
		dead:   make(chan struct{}),
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy(),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(t.codec), grpc.MaxCallRecvMsgSize(4<<10)),
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
		grpc.WithDisableRetry(),
	)
	if err != nil {
		// Only a malformed target fails here; the peer is dead from the start.
		p.fail(fmt.Errorf("dial: %w", err))
		return p
	}
	p.cc, p.client = cc, ringpb.NewRingClient(cc)
	cc.Connect()
	t.wg.Add(2)
	go p.watch()
	go p.sendLoop()
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

// sendLoop writes the queued data frames to the peer's stream, in order.
func (p *peer) sendLoop() {
	defer p.t.wg.Done()
	defer p.drain()
	var (
		st grpc.ClientStreamingClient[ringpb.Frame, ringpb.Closed]
		f  outFrame
	)
	for {
		var b mem.Buffer
		select {
		case b = <-p.sendq:
		case <-p.ctx.Done():
			return
		case <-p.dead:
			return
		}
		if st == nil {
			var err error
			if st, err = p.client.Stream(p.ctx); err != nil {
				b.Free()
				p.fail(describe(err))
				return
			}
		}
		f.buf = b
		if err := st.SendMsg(&f); err != nil {
			if f.buf != nil {
				f.buf.Free()
				f.buf = nil
			}
			if errors.Is(err, io.EOF) { // the server ended the stream: why?
				if err = st.RecvMsg(new(ringpb.Closed)); err == nil {
					err = errors.New("stream closed by peer")
				}
			}
			p.fail(describe(err))
			return
		}
	}
}

// drain frees the frames still queued.
func (p *peer) drain() {
	for {
		select {
		case b := <-p.sendq:
			b.Free()
		default:
			return
		}
	}
}

// sendAbort sends an abort message as a unary call: it has its own stream,
// so it neither waits behind nor for the data stream's flow control.
func (t *Transport) sendAbort(ctx context.Context, to int, p *peer, h frameHeader, payload []byte) error {
	if p.isDead() {
		return t.lost(to, p.err())
	}
	ctx = metadata.AppendToOutgoingContext(ctx, mdAddr, t.addr)
	fr := &ringpb.Frame{Run: h.Run, Generation: h.Generation, Step: h.Step, Sender: h.Sender, Segment: h.Segment, Kind: h.Kind, Payload: payload}
	if _, err := p.client.Abort(ctx, fr); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("grpctransport: abort to rank %d (%s): %w", to, p.addr, ctx.Err())
		}
		if t.isClosed() {
			return allreduce.ErrClosed
		}
		return t.lost(to, describe(err))
	}
	return nil
}

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
