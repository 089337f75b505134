package grpctransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/grpctransport/ringpb"
)

// Transport is an allreduce.Transport over gRPC: a server that receives
// from the peers, and a connection with one long-lived stream to each peer
// it sends to. See allreduce.Transport for the contract, and the package doc
// for how it maps onto gRPC.
type Transport struct {
	cfg   Config
	log   *slog.Logger
	addr  string
	srv   *grpc.Server
	codec *frameCodec
	pool  *bufPool  // send buffers of the payloads Send copies
	recv  *recvPool // gRPC's receive buffers

	closed    chan struct{}
	closeOnce sync.Once
	serveDone chan struct{}
	wg        sync.WaitGroup // peer goroutines

	// fence is the run and generation the handlers refuse older messages
	// against (nil before the first Configure).
	fence atomic.Pointer[fence]

	// Set by Configure; read by Send and Recv, which never run concurrently
	// with Configure (the allreduce.Transport contract).
	m          allreduce.Membership
	configured bool
	peers      []*peer  // by rank
	inboxes    []*inbox // by rank

	mu     sync.Mutex
	byAddr map[string]*peer  // outbound connections; nil once closed
	inbox  map[string]*inbox // inbound queues, by sender address

	frames  sync.Pool    // *inFrame
	refused atomic.Int64 // stale messages dropped on arrival

	auth         string       // authValue(cfg.Secret), or "" when Insecure
	unauthorized atomic.Int64 // calls refused by authorize
}

type fence struct{ run, gen uint64 }

// maxAbortBytes is the room for an abort's payload (the Ring's reason)
// when MaxPayloadBytes is smaller.
const maxAbortBytes = 1 << 10

var _ allreduce.Transport = (*Transport)(nil)

// New listens on cfg.ListenAddr and serves the ring service there.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("grpctransport: listen: %w", err)
	}
	return NewListener(ln, cfg)
}

// NewListener serves the ring service on ln (for example a socket inherited
// from a parent process); the Transport closes ln when it closes.
func NewListener(ln net.Listener, cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, err
	}
	t := &Transport{
		cfg:       cfg,
		log:       cfg.Logger,
		addr:      cfg.AdvertiseAddr,
		codec:     newFrameCodec(),
		pool:      newBufPool(zeroCopyMin),
		recv:      new(recvPool),
		closed:    make(chan struct{}),
		serveDone: make(chan struct{}),
		byAddr:    map[string]*peer{},
		inbox:     map[string]*inbox{},
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.addr == "" {
		t.addr = ln.Addr().String()
	}
	if len(cfg.Secret) > 0 {
		t.auth = authValue(cfg.Secret)
	}
	t.frames.New = func() any { return new(inFrame) }
	t.srv = grpc.NewServer(
		grpc.ForceServerCodecV2(t.codec),
		grpc.MaxRecvMsgSize(max(cfg.MaxPayloadBytes, maxAbortBytes)+maxHeaderLen),
		grpc.InitialWindowSize(cfg.StreamWindowBytes),
		grpc.InitialConnWindowSize(cfg.ConnWindowBytes),
		grpc.WriteBufferSize(cfg.WriteBufferBytes),
		grpc.ReadBufferSize(cfg.ReadBufferBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: cfg.KeepaliveTime, Timeout: cfg.KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: cfg.KeepaliveTime, PermitWithoutStream: true}),
		grpc.WaitForHandlers(true),
		experimental.BufferPool(t.recv),
		grpc.StatsHandler(connWatch{}),
		grpc.UnaryInterceptor(t.authUnary),
		grpc.StreamInterceptor(t.authStream),
	)
	ringpb.RegisterRingServer(t.srv, &service{t: t})
	lns := []net.Listener{ln}
	if l := t.listenLocal(); l != nil {
		lns = append(lns, l)
	}
	var serving sync.WaitGroup
	for _, l := range lns {
		serving.Go(func() {
			if err := t.srv.Serve(l); err != nil {
				t.log.Warn("grpctransport: serve", "addr", l.Addr(), "err", err)
			}
		})
	}
	go func() {
		serving.Wait()
		close(t.serveDone)
	}()
	return t, nil
}

// Addr returns the address peers dial.
func (t *Transport) Addr() string { return t.addr }

// Configure implements allreduce.Transport. It reuses the connections to
// peers of the previous generation that are still alive, starts connecting
// to the new ones without waiting, and closes the rest.
func (t *Transport) Configure(ctx context.Context, m allreduce.Membership) error {
	if t.isClosed() {
		return allreduce.ErrClosed
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Peers[m.Rank] != t.addr {
		return fmt.Errorf("%w: Peers[%d] = %q; this endpoint is %q", allreduce.ErrInvalidMembership, m.Rank, m.Peers[m.Rank], t.addr)
	}
	if t.configured && m.Gen <= t.m.Gen {
		return fmt.Errorf("%w: configure generation %d after %d", allreduce.ErrStaleGeneration, m.Gen, t.m.Gen)
	}
	m.Peers = append([]string(nil), m.Peers...)
	t.fence.Store(&fence{run: m.Run, gen: m.Gen})

	t.mu.Lock()
	if t.byAddr == nil {
		t.mu.Unlock()
		return allreduce.ErrClosed
	}
	old := t.byAddr
	t.byAddr = make(map[string]*peer, len(m.Peers))
	peers := make([]*peer, len(m.Peers))
	inboxes := make([]*inbox, len(m.Peers))
	for i, a := range m.Peers {
		p := old[a]
		if p != nil && !p.isDead() {
			delete(old, a)
		} else {
			p = t.newPeer(a)
		}
		t.byAddr[a] = p
		peers[i] = p
		inboxes[i] = t.inboxLocked(a)
	}
	for _, in := range t.inbox {
		in.reconfigure(m.Run, m.Gen, t.putFrame)
	}
	t.mu.Unlock()
	for _, p := range old {
		p.close()
	}
	t.m, t.peers, t.inboxes, t.configured = m, peers, inboxes, true
	return nil
}

// inboxLocked returns the inbox of sender addr, creating it. t.mu held.
func (t *Transport) inboxLocked(addr string) *inbox {
	in := t.inbox[addr]
	if in == nil {
		in = newInbox(addr, t.cfg.RecvQueueMessages)
		t.inbox[addr] = in
	}
	return in
}

// Send implements allreduce.Transport. A data message is encoded into a
// pooled buffer (the one copy of payload) and queued for the peer's stream;
// an abort goes as its own call, ahead of queued data.
func (t *Transport) Send(ctx context.Context, to int, h allreduce.Header, payload []byte) error {
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	limit := t.cfg.MaxPayloadBytes
	if h.Kind == allreduce.KindAbort {
		limit = max(limit, maxAbortBytes)
	}
	if len(payload) > limit {
		return fmt.Errorf("grpctransport: send %d bytes to rank %d (%s): %w (limit %d)",
			len(payload), to, p.addr, allreduce.ErrMessageTooLarge, limit)
	}
	fh := frameHeader{Run: h.Run, Generation: h.Gen, Step: h.Step, Sender: h.From, Segment: h.Seg, Kind: uint32(h.Kind)}
	if h.Kind == allreduce.KindAbort {
		return t.sendAbort(ctx, to, p, fh, payload)
	}
	if p.isDead() {
		return t.lost(to, p.err())
	}
	switch err := p.send(ctx, fh, payload); {
	case err == nil:
		return nil
	case errors.Is(err, errPeerDead):
		return t.lost(to, p.err())
	case errors.Is(err, allreduce.ErrClosed):
		return err
	default:
		return fmt.Errorf("grpctransport: send to rank %d (%s): %w", to, p.addr, err)
	}
}

// Recv implements allreduce.Transport: it copies the payload straight out
// of gRPC's receive buffers into dst.
func (t *Transport) Recv(ctx context.Context, from int, dst []byte) (allreduce.Header, int, error) {
	p, err := t.peer(from)
	if err != nil {
		return allreduce.Header{}, 0, err
	}
	in := t.inboxes[from]
	f := t.fence.Load()
	for {
		h, n, err, ok := in.take(f.run, f.gen, dst, t.putFrame)
		if ok {
			if err != nil {
				err = &allreduce.PeerError{Rank: from, Addr: p.addr, Err: err}
			}
			return h, n, err
		}
		if cause := in.lostErr(); cause != nil {
			return allreduce.Header{}, 0, t.lost(from, cause)
		}
		select {
		case <-in.notify:
		case <-ctx.Done():
			return allreduce.Header{}, 0, fmt.Errorf("grpctransport: receive from rank %d (%s): %w", from, p.addr, ctx.Err())
		case <-t.closed:
			return allreduce.Header{}, 0, allreduce.ErrClosed
		case <-p.dead:
			// Deliver what arrived before the loss first.
			if h, n, err, ok := in.take(f.run, f.gen, dst, t.putFrame); ok {
				if err != nil {
					err = &allreduce.PeerError{Rank: from, Addr: p.addr, Err: err}
				}
				return h, n, err
			}
			return allreduce.Header{}, 0, t.lost(from, p.err())
		}
	}
}

// peer checks the common preconditions of Send and Recv.
func (t *Transport) peer(rank int) (*peer, error) {
	if t.isClosed() {
		return nil, allreduce.ErrClosed
	}
	if !t.configured {
		return nil, allreduce.ErrNotConfigured
	}
	if rank < 0 || rank >= len(t.peers) {
		return nil, fmt.Errorf("%w: rank %d outside [0, %d)", allreduce.ErrInvalidMembership, rank, len(t.peers))
	}
	return t.peers[rank], nil
}

// lost is the error naming a lost peer.
func (t *Transport) lost(rank int, cause error) error {
	if cause == nil {
		cause = errors.New("connection closed")
	}
	return &allreduce.PeerError{Rank: rank, Addr: t.m.Peers[rank], Err: fmt.Errorf("%w: %v", allreduce.ErrPeerLost, cause)}
}

func (t *Transport) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

func (t *Transport) getFrame() *inFrame { return t.frames.Get().(*inFrame) }

func (t *Transport) putFrame(f *inFrame) {
	f.release()
	t.frames.Put(f)
}

// Close implements allreduce.Transport. Blocked and later calls fail with
// ErrClosed at once; the data messages already sent are then written out
// and acknowledged by their receivers (for at most a second: a peer that
// does not read is cut off), the connections and the listener are closed,
// and Close waits for its goroutines.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.mu.Lock()
		peers := t.byAddr
		t.byAddr = nil
		t.mu.Unlock()
		// Let what was sent before Close reach the peers (bounded), then cut.
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		var wg sync.WaitGroup
		for _, p := range peers {
			wg.Go(func() { p.endStream(ctx) })
		}
		wg.Wait()
		cancel()
		for _, p := range peers {
			p.close()
		}
		t.srv.Stop()
		<-t.serveDone
		t.wg.Wait()
		t.mu.Lock()
		for _, in := range t.inbox {
			in.drain(t.putFrame)
		}
		t.mu.Unlock()
	})
	return nil
}
