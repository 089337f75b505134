package tcptransport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/craftml/craft/allreduce"
)

// Transport is an allreduce.Transport (and allreduce.Lender) over plain
// TCP: a listener that accepts the peers' connections, and a data and a
// control connection to each peer it sends to. See allreduce.Transport for
// the contract and the package doc for how it maps onto TCP.
type Transport struct {
	cfg  Config
	log  *slog.Logger
	addr string
	ln   net.Listener
	uln  net.Listener // the local socket for same-host peers; nil if none
	lim  limits

	ctx       context.Context // done once Close starts
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // every goroutine of the transport
	handshake chan struct{}  // semaphore: inbound handshakes in progress

	// Set by Configure; read by Send and Recv, which never run concurrently
	// with Configure (the allreduce.Transport contract).
	m          allreduce.Membership
	configured bool
	peers      []*peer // by rank
	links      []*link // by rank

	mu      sync.Mutex
	byAddr  map[string]*peer // outbound, by address; nil once closed
	inbound map[string]*link // inbound, by sender address

	refused atomic.Int64 // connections refused at the handshake
	dropped atomic.Int64 // stale messages dropped on receipt
}

var (
	_ allreduce.Transport = (*Transport)(nil)
	_ allreduce.Lender    = (*Transport)(nil)
)

// maxHandshakes bounds the inbound handshakes in progress; more
// connections are refused at once.
const maxHandshakes = 64

// New listens on cfg.ListenAddr.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("tcptransport: listen: %w", err)
	}
	return NewListener(ln, cfg)
}

// NewListener accepts the peers' connections on ln (for example a socket
// inherited from a parent process); the Transport closes ln when it closes.
func NewListener(ln net.Listener, cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:       cfg,
		log:       cfg.Logger,
		addr:      cfg.AdvertiseAddr,
		ln:        ln,
		lim:       limits{maxData: cfg.MaxPayloadBytes},
		ctx:       ctx,
		cancel:    cancel,
		handshake: make(chan struct{}, maxHandshakes),
		byAddr:    map[string]*peer{},
		inbound:   map[string]*link{},
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.addr == "" {
		t.addr = ln.Addr().String()
	}
	if len(t.addr) > maxAddrLen {
		ln.Close()
		cancel()
		return nil, fmt.Errorf("tcptransport: address %q longer than %d bytes", t.addr, maxAddrLen)
	}
	t.uln = t.listenLocal()
	t.wg.Add(1)
	go t.serve(t.ln)
	if t.uln != nil {
		t.wg.Add(1)
		go t.serve(t.uln)
	}
	return t, nil
}

// Addr returns the address peers dial.
func (t *Transport) Addr() string { return t.addr }

// Refused returns how many inbound connections failed the handshake (wrong
// secret, garbage, timeout) and were closed.
func (t *Transport) Refused() int64 { return t.refused.Load() }

// Configure implements allreduce.Transport. It keeps the connections to
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

	t.mu.Lock()
	if t.byAddr == nil {
		t.mu.Unlock()
		return allreduce.ErrClosed
	}
	old := t.byAddr
	t.byAddr = make(map[string]*peer, len(m.Peers))
	peers := make([]*peer, len(m.Peers))
	links := make([]*link, len(m.Peers))
	for i, a := range m.Peers {
		p := old[a]
		if p != nil && !p.isDead() {
			delete(old, a)
		} else {
			p = newPeer(t, a)
		}
		t.byAddr[a] = p
		peers[i] = p
		links[i] = t.linkLocked(a)
	}
	for _, l := range t.inbound {
		l.reconfigure(m.Run, m.Gen)
	}
	t.mu.Unlock()
	for _, p := range old {
		p.close()
	}
	for i, p := range peers {
		if i != m.Rank { // a rank sends to itself rarely: connect on first use
			p.connect()
		}
	}
	t.m, t.peers, t.links, t.configured = m, peers, links, true
	return nil
}

// linkLocked returns the inbound link of sender addr, creating it. t.mu
// held.
func (t *Transport) linkLocked(addr string) *link {
	l := t.inbound[addr]
	if l == nil {
		l = newLink(t, addr)
		t.inbound[addr] = l
	}
	return l
}

// Send implements allreduce.Transport. A data message goes out on the
// peer's data connection with one writev of the header and payload, in the
// caller's goroutine, straight from payload; an abort goes on the control
// connection, so it never waits behind data.
func (t *Transport) Send(ctx context.Context, to int, h allreduce.Header, payload []byte) error {
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	limit := t.cfg.MaxPayloadBytes
	switch h.Kind {
	case allreduce.KindData:
	case allreduce.KindAbort:
		limit = max(limit, maxAbortBytes)
	default:
		return fmt.Errorf("tcptransport: send to rank %d: unknown kind %v", to, h.Kind)
	}
	if len(payload) > limit {
		return fmt.Errorf("tcptransport: send %d bytes to rank %d (%s): %w (limit %d)",
			len(payload), to, p.addr, allreduce.ErrMessageTooLarge, limit)
	}
	p.connect()
	fh := headerOf(h, len(payload))
	if h.Kind == allreduce.KindAbort {
		err = p.sendControl(ctx, fh, payload)
	} else {
		err = p.sendData(ctx, fh, payload)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errPeerDead):
		return t.lost(to, p.err())
	case errors.Is(err, allreduce.ErrClosed):
		return allreduce.ErrClosed
	default:
		return fmt.Errorf("tcptransport: send to rank %d (%s): %w", to, p.addr, err)
	}
}

// Recv implements allreduce.Transport: it reads the payload from the
// socket straight into dst.
func (t *Transport) Recv(ctx context.Context, from int, dst []byte) (allreduce.Header, int, error) {
	l, err := t.link(from)
	if err != nil {
		return allreduce.Header{}, 0, err
	}
	h, n, err := l.recv(ctx, t.peers[from], t.m.Run, t.m.Gen, dst, nil)
	return h, n, t.recvErr(from, err)
}

// RecvLend implements allreduce.Lender: it reads the payload into the
// link's own buffer and lends it to use.
func (t *Transport) RecvLend(ctx context.Context, from int, use func(h allreduce.Header, payload []byte) error) error {
	l, err := t.link(from)
	if err != nil {
		return err
	}
	_, _, err = l.recv(ctx, t.peers[from], t.m.Run, t.m.Gen, nil, use)
	return t.recvErr(from, err)
}

// recvErr names the peer in an error of link.recv.
func (t *Transport) recvErr(from int, err error) error {
	if err == nil {
		return nil
	}
	var (
		le *lostError
		ue *useError
	)
	switch {
	case errors.Is(err, allreduce.ErrClosed):
		return err
	case errors.As(err, &ue):
		return ue.err
	case errors.As(err, &le):
		return t.lost(from, le.cause)
	case errors.Is(err, allreduce.ErrFutureGeneration), errors.Is(err, allreduce.ErrMessageTooLarge):
		return &allreduce.PeerError{Rank: from, Addr: t.m.Peers[from], Err: err}
	default: // the context's error
		return fmt.Errorf("tcptransport: receive from rank %d (%s): %w", from, t.m.Peers[from], err)
	}
}

// peer checks the common preconditions of Send.
func (t *Transport) peer(rank int) (*peer, error) {
	if err := t.check(rank); err != nil {
		return nil, err
	}
	return t.peers[rank], nil
}

// link checks the common preconditions of Recv.
func (t *Transport) link(rank int) (*link, error) {
	if err := t.check(rank); err != nil {
		return nil, err
	}
	return t.links[rank], nil
}

func (t *Transport) check(rank int) error {
	if t.isClosed() {
		return allreduce.ErrClosed
	}
	if !t.configured {
		return allreduce.ErrNotConfigured
	}
	if rank < 0 || rank >= len(t.peers) {
		return fmt.Errorf("%w: rank %d outside [0, %d)", allreduce.ErrInvalidMembership, rank, len(t.peers))
	}
	return nil
}

// lost is the error naming a lost peer.
func (t *Transport) lost(rank int, cause error) error {
	if cause == nil {
		cause = errors.New("connection closed")
	}
	return &allreduce.PeerError{Rank: rank, Addr: t.m.Peers[rank], Err: fmt.Errorf("%w: %w", allreduce.ErrPeerLost, cause)}
}

func (t *Transport) isClosed() bool { return t.ctx.Err() != nil }

// goSafe runs f in a goroutine counted by t.wg, unless the transport is
// closed (then it reports false). t.mu orders the Add before Close's Wait.
func (t *Transport) goSafe(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byAddr == nil {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// Close implements allreduce.Transport. Blocked and later calls fail with
// ErrClosed at once. The data connections are closed normally, so the
// kernel still delivers what Send wrote before Close; the transport waits
// for its goroutines.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		t.mu.Lock()
		peers, links := t.byAddr, t.inbound
		t.byAddr = nil
		t.mu.Unlock()
		t.ln.Close()
		if t.uln != nil {
			t.uln.Close()
		}
		for _, p := range peers {
			p.close()
		}
		for _, l := range links {
			l.close()
		}
		t.wg.Wait()
	})
	return nil
}

// serve accepts connections until the listener closes; each is handshaken
// in its own goroutine.
func (t *Transport) serve(ln net.Listener) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if t.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("tcptransport: accept", "addr", t.addr, "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-time.After(50 * time.Millisecond):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		select {
		case t.handshake <- struct{}{}:
		default:
			t.refuse(c, errors.New("too many handshakes in progress"))
			continue
		}
		if !t.goSafe(func() { t.accept(c) }) {
			c.Close()
			return
		}
	}
}

// accept handshakes an inbound connection and hands it to its sender's
// link.
func (t *Transport) accept(c net.Conn) {
	c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	stop := context.AfterFunc(t.ctx, func() { c.Close() })
	h, err := serverHandshake(c, t.cfg.Secret, t.addr)
	<-t.handshake
	if !stop() {
		c.Close()
		return
	}
	if err != nil {
		t.refuse(c, err)
		return
	}
	c.SetDeadline(time.Time{})
	tc, ok := c.(sock)
	if !ok {
		t.refuse(c, fmt.Errorf("not a stream socket (%T)", c))
		return
	}
	t.tune(tc, h.role)
	t.mu.Lock()
	if t.byAddr == nil {
		t.mu.Unlock()
		c.Close()
		return
	}
	l := t.linkLocked(h.addr)
	t.mu.Unlock()
	if h.role == roleData {
		l.attachData(h.session, tc)
		return
	}
	l.serveControl(h.session, tc)
}

// refuse closes a connection that failed the handshake, counts and logs it.
func (t *Transport) refuse(c net.Conn, err error) {
	t.refused.Add(1)
	t.log.Warn("tcptransport: refused connection", "addr", t.addr, "remote", c.RemoteAddr().String(), "err", err)
	c.Close()
}

// tune sets the socket options of a connection of role.
func (t *Transport) tune(c sock, role byte) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if role == roleData && t.cfg.SocketBufferBytes > 0 {
		c.SetWriteBuffer(t.cfg.SocketBufferBytes)
		c.SetReadBuffer(t.cfg.SocketBufferBytes)
	}
}

// afterFuncer is the method package context looks for in AfterFunc; the
// Ring's operation contexts have it. Calling it directly skips the
// allocations of context.AfterFunc.
type afterFuncer interface {
	AfterFunc(func()) func() bool
}

// watch arranges for f to run once ctx is done; stop undoes that (see
// context.AfterFunc). f must tolerate running late, after stop.
func watch(ctx context.Context, f func()) (stop func() bool) {
	if ctx.Done() == nil {
		return noStop
	}
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(ctx, f)
}

func noStop() bool { return true }

// past is a deadline in the past: setting it interrupts a blocked read or
// write at once.
var past = time.Unix(1, 0)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
