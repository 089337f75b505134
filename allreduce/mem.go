package allreduce

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// MemConfig configures a MemNetwork.
type MemConfig struct {
	// QueueMessages is how many data messages one link (sender to receiver)
	// buffers before Send blocks; it stands for the flow-control window.
	QueueMessages int
	// MaxDelay turns the network into a fake one for tests: each message
	// becomes visible to Recv after a random delay in [0, MaxDelay], drawn
	// from a per-link generator seeded with Seed; order per link is kept
	// (a stream), order across links is shuffled. 0 delivers at once.
	MaxDelay time.Duration
	// Seed seeds the delays.
	Seed uint64
}

// DefaultMemConfig returns the configuration of a fast in-memory network.
func DefaultMemConfig() MemConfig {
	return MemConfig{QueueMessages: 8}
}

// Validate names the first bad field.
func (c MemConfig) Validate() error {
	switch {
	case c.QueueMessages < 1:
		return fmt.Errorf("allreduce: MemConfig.QueueMessages = %d; want >= 1", c.QueueMessages)
	case c.MaxDelay < 0:
		return fmt.Errorf("allreduce: MemConfig.MaxDelay = %v; want >= 0", c.MaxDelay)
	}
	return nil
}

// MemNetwork connects MemTransports in one process. Messages are copied, as
// on a real network. It starts no goroutines. Safe for concurrent use.
type MemNetwork struct {
	cfg MemConfig

	mu    sync.Mutex
	byAdr map[string]*MemTransport
	links map[[2]int]*memLink // (sender id, receiver id)
	next  int
}

// NewMemNetwork returns an empty network; it panics if cfg is invalid (a
// caller bug).
func NewMemNetwork(cfg MemConfig) *MemNetwork {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &MemNetwork{cfg: cfg, byAdr: map[string]*MemTransport{}, links: map[[2]int]*memLink{}}
}

// Endpoint adds an unconfigured endpoint with a fresh address ("mem-0",
// "mem-1", ...).
func (n *MemNetwork) Endpoint() *MemTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := &MemTransport{net: n, id: n.next, addr: fmt.Sprintf("mem-%d", n.next), closed: make(chan struct{})}
	n.next++
	n.byAdr[t.addr] = t
	return t
}

// Endpoints adds k endpoints; configure endpoint i as rank i with
// Peers = Addrs(ts) to form a ring.
func (n *MemNetwork) Endpoints(k int) []Transport {
	ts := make([]Transport, k)
	for i := range ts {
		ts[i] = n.Endpoint()
	}
	return ts
}

// Addrs returns the addresses of ts, in order: the Peers of a Membership.
func Addrs(ts []Transport) []string {
	a := make([]string, len(ts))
	for i, t := range ts {
		a[i] = t.Addr()
	}
	return a
}

func (n *MemNetwork) lookup(addr string) *MemTransport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byAdr[addr]
}

// link returns the link from sender to receiver, creating it.
func (n *MemNetwork) link(from, to *MemTransport) *memLink {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := [2]int{from.id, to.id}
	l := n.links[k]
	if l == nil {
		l = &memLink{
			buf:      make([]memMsg, n.cfg.QueueMessages),
			readable: make(chan struct{}, 1),
			writable: make(chan struct{}, 1),
			maxDelay: n.cfg.MaxDelay,
		}
		if n.cfg.MaxDelay > 0 {
			l.rng = rand.New(rand.NewPCG(n.cfg.Seed, uint64(from.id)<<32|uint64(to.id)))
		}
		n.links[k] = l
		to.inMu.Lock()
		to.inbound = append(to.inbound, l)
		to.inMu.Unlock()
	}
	return l
}

// memMsg is one queued message; p is owned by the link.
type memMsg struct {
	h       Header
	p       []byte
	visible time.Time // zero: at once
}

// memLink is the queue of one direction between two endpoints.
type memLink struct {
	mu       sync.Mutex
	buf      []memMsg // circular, len = capacity
	head, n  int
	aborts   []memMsg // unbounded, overtake data
	free     [][]byte // payload buffers to reuse
	maxDelay time.Duration
	rng      *rand.Rand
	last     time.Time // visibility of the last queued message (keeps order)

	readable chan struct{} // kicked when a message is queued
	writable chan struct{} // kicked when a data message leaves
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// stamp returns when a message queued now becomes visible. l.mu held.
func (l *memLink) stamp() time.Time {
	if l.rng == nil {
		return time.Time{}
	}
	v := time.Now().Add(time.Duration(l.rng.Int64N(int64(l.maxDelay) + 1)))
	if v.Before(l.last) {
		v = l.last
	}
	l.last = v
	return v
}

func (l *memLink) getBuf(size int) []byte {
	if k := len(l.free); k > 0 {
		b := l.free[k-1]
		l.free = l.free[:k-1]
		if cap(b) >= size {
			return b[:size]
		}
	}
	return make([]byte, size)
}

// popData removes the head data message and returns it; its buffer goes
// back with recycle once read. l.mu held.
func (l *memLink) popData() memMsg {
	m := l.buf[l.head]
	l.buf[l.head] = memMsg{}
	l.head = (l.head + 1) % len(l.buf)
	l.n--
	kick(l.writable)
	return m
}

// recycle returns a delivered message's payload buffer for reuse.
func (l *memLink) recycle(m memMsg) {
	l.mu.Lock()
	l.recycleLocked(m)
	l.mu.Unlock()
}

func (l *memLink) recycleLocked(m memMsg) {
	if m.p != nil {
		l.free = append(l.free, m.p)
	}
}

// purge drops queued messages of another run or older than gen.
func (l *memLink) purge(run, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.aborts[:0]
	for _, m := range l.aborts {
		if m.h.Run == run && m.h.Gen >= gen {
			keep = append(keep, m)
		}
	}
	l.aborts = keep
	// Data: drop stale ones from the head (messages are per sender, whose
	// generations only grow, so stale ones are always at the head).
	for l.n > 0 {
		h := l.buf[l.head].h
		if h.Run == run && h.Gen >= gen {
			break
		}
		l.recycleLocked(l.popData())
	}
}

// MemTransport is one endpoint of a MemNetwork; see Transport for the
// contract it implements.
type MemTransport struct {
	net    *MemNetwork
	id     int
	addr   string
	closed chan struct{}
	once   sync.Once

	inMu    sync.Mutex
	inbound []*memLink // every link into this endpoint

	// Set by Configure; read by Send and Recv (never concurrently with
	// Configure, per the contract).
	configured bool
	m          Membership
	peers      []*MemTransport // nil entry: address unknown (lost)
	out, in    []*memLink
}

var _ Transport = (*MemTransport)(nil)

// Addr returns "mem-N".
func (t *MemTransport) Addr() string { return t.addr }

// Configure implements Transport.
func (t *MemTransport) Configure(ctx context.Context, m Membership) error {
	if t.isClosed() {
		return ErrClosed
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Peers[m.Rank] != t.addr {
		return fmt.Errorf("%w: Peers[%d] = %q; this endpoint is %q", ErrInvalidMembership, m.Rank, m.Peers[m.Rank], t.addr)
	}
	if t.configured && m.Gen <= t.m.Gen {
		return fmt.Errorf("%w: configure generation %d after %d", ErrStaleGeneration, m.Gen, t.m.Gen)
	}
	m.Peers = append([]string(nil), m.Peers...)
	peers := make([]*MemTransport, len(m.Peers))
	out := make([]*memLink, len(m.Peers))
	in := make([]*memLink, len(m.Peers))
	for i, a := range m.Peers {
		p := t.net.lookup(a)
		if p == nil {
			continue
		}
		peers[i], out[i], in[i] = p, t.net.link(t, p), t.net.link(p, t)
	}
	t.m, t.peers, t.out, t.in, t.configured = m, peers, out, in, true
	t.inMu.Lock()
	inbound := append([]*memLink(nil), t.inbound...)
	t.inMu.Unlock()
	for _, l := range inbound {
		l.purge(m.Run, m.Gen)
	}
	return nil
}

func (t *MemTransport) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// peer checks the common preconditions of Send and Recv.
func (t *MemTransport) peer(rank int) (*MemTransport, error) {
	if t.isClosed() {
		return nil, ErrClosed
	}
	if !t.configured {
		return nil, ErrNotConfigured
	}
	if rank < 0 || rank >= len(t.peers) {
		return nil, fmt.Errorf("%w: rank %d outside [0, %d)", ErrInvalidMembership, rank, len(t.peers))
	}
	p := t.peers[rank]
	if p == nil || p.isClosed() {
		return nil, t.lost(rank)
	}
	return p, nil
}

func (t *MemTransport) lost(rank int) error {
	return &PeerError{Rank: rank, Addr: t.m.Peers[rank], Err: ErrPeerLost}
}

// Send implements Transport.
func (t *MemTransport) Send(ctx context.Context, to int, h Header, payload []byte) error {
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	l := t.out[to]
	for {
		l.mu.Lock()
		if h.Kind == KindAbort || l.n < len(l.buf) {
			b := l.getBuf(len(payload))
			copy(b, payload)
			m := memMsg{h: h, p: b, visible: l.stamp()}
			if h.Kind == KindAbort {
				l.aborts = append(l.aborts, m)
			} else {
				l.buf[(l.head+l.n)%len(l.buf)] = m
				l.n++
			}
			l.mu.Unlock()
			kick(l.readable)
			return nil
		}
		l.mu.Unlock()
		select {
		case <-l.writable:
		case <-ctx.Done():
			return fmt.Errorf("allreduce: send to rank %d: %w", to, ctx.Err())
		case <-t.closed:
			return ErrClosed
		case <-p.closed:
			return t.lost(to)
		}
	}
}

// Recv implements Transport.
func (t *MemTransport) Recv(ctx context.Context, from int, dst []byte) (Header, int, error) {
	m, err := t.next(ctx, from)
	if err != nil {
		return m.h, 0, err
	}
	n := copy(dst, m.p)
	t.in[from].recycle(m)
	if n < len(m.p) {
		return m.h, n, t.tooLarge(from, m.h, len(m.p), len(dst))
	}
	return m.h, n, nil
}

// RecvLend implements Lender: use reads the queued payload itself.
func (t *MemTransport) RecvLend(ctx context.Context, from int, use func(Header, []byte) error) error {
	m, err := t.next(ctx, from)
	if err != nil {
		return err
	}
	defer t.in[from].recycle(m)
	return use(m.h, m.p)
}

var _ Lender = (*MemTransport)(nil)

// next waits for the next deliverable message from rank from and removes it
// from its queue; the caller hands it back with recycle.
func (t *MemTransport) next(ctx context.Context, from int) (memMsg, error) {
	if t.isClosed() {
		return memMsg{}, ErrClosed
	}
	if !t.configured {
		return memMsg{}, ErrNotConfigured
	}
	if from < 0 || from >= len(t.peers) {
		return memMsg{}, fmt.Errorf("%w: rank %d outside [0, %d)", ErrInvalidMembership, from, len(t.peers))
	}
	p := t.peers[from]
	if p == nil {
		return memMsg{}, t.lost(from)
	}
	l := t.in[from]
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	peerClosed := p.closed
	for {
		// Messages queued before the peer closed are still delivered, like
		// data written to a socket before it is closed.
		lost := p.isClosed()
		l.mu.Lock()
		m, err, done, wait := t.take(l, from)
		l.mu.Unlock()
		if done {
			return m, err
		}
		if lost {
			if wait == 0 {
				return memMsg{}, t.lost(from)
			}
			peerClosed = nil
		}
		var wake <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			wake = timer.C
		}
		select {
		case <-l.readable:
		case <-wake:
		case <-ctx.Done():
			return memMsg{}, fmt.Errorf("allreduce: receive from rank %d: %w", from, ctx.Err())
		case <-t.closed:
			return memMsg{}, ErrClosed
		case <-peerClosed:
		}
	}
}

// take removes the next deliverable message of l, if any. l.mu held. It
// returns done=false and how long to wait when the next message is not
// visible yet (0: nothing queued). A message of a newer generation stays
// queued and is reported with an error.
func (t *MemTransport) take(l *memLink, from int) (m memMsg, err error, done bool, wait time.Duration) {
	run, gen := t.m.Run, t.m.Gen
	for len(l.aborts) > 0 {
		a := l.aborts[0]
		switch {
		case a.h.Run != run || a.h.Gen < gen:
			l.aborts = l.aborts[1:]
			continue
		case a.h.Gen > gen:
			return memMsg{h: a.h}, t.future(from, a.h), true, 0
		}
		if d := time.Until(a.visible); !a.visible.IsZero() && d > 0 {
			wait = d
			break
		}
		l.aborts = l.aborts[1:]
		return a, nil, true, 0
	}
	for l.n > 0 {
		head := l.buf[l.head]
		switch {
		case head.h.Run != run || head.h.Gen < gen:
			l.recycleLocked(l.popData())
			continue
		case head.h.Gen > gen:
			return memMsg{h: head.h}, t.future(from, head.h), true, 0
		}
		if d := time.Until(head.visible); !head.visible.IsZero() && d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			return memMsg{}, nil, false, wait
		}
		return l.popData(), nil, true, 0
	}
	return memMsg{}, nil, false, wait
}

func (t *MemTransport) future(from int, h Header) error {
	return &PeerError{Rank: from, Addr: t.m.Peers[from], Err: fmt.Errorf("%w: %v, configured %d", ErrFutureGeneration, h, t.m.Gen)}
}

func (t *MemTransport) tooLarge(from int, h Header, size, room int) error {
	return &PeerError{Rank: from, Addr: t.m.Peers[from], Err: fmt.Errorf("%w: %v: %d bytes into %d", ErrMessageTooLarge, h, size, room)}
}

// Close implements Transport: peers see this endpoint as lost.
func (t *MemTransport) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}
