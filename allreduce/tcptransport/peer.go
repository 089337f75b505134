package tcptransport

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/craftml/craft/allreduce"
)

// peer is the sending side towards one peer address: a data connection
// that carries every data message to it, in order, whatever the
// generation, and a control connection for aborts and heartbeats. A peer
// dies once (a connection fails, the peer falls silent, or Configure drops
// it); Configure replaces a dead peer with a new one, which connects anew
// under a new session.
type peer struct {
	t       *Transport
	addr    string
	session uint64

	connectOnce sync.Once
	ready       chan struct{} // closed once both connections are up
	dead        chan struct{} // closed by fail

	mu    sync.Mutex
	cause error
	data  sock // set before ready closes
	ctrl  sock
	conns []net.Conn // every connection made, closed by fail

	// wlock is held by the writer of the data connection: a Send, or the
	// goroutine finishing the message of a cancelled Send.
	wlock chan struct{}
	hdr   [headerLen]byte
	iov   [2][]byte
	bufs  net.Buffers
	rest  []byte // the unsent tail of a cancelled Send
	intrW func() // interrupts a blocked write on the data connection

	// clock is held by the writer of the control connection: an abort
	// Send or the heartbeat.
	clock chan struct{}
	chdr  [headerLen]byte
	ciov  [2][]byte
	cbufs net.Buffers
	intrC func()
}

// errPeerDead tells Send to report the peer's cause of death.
var errPeerDead = errors.New("peer dead")

func newPeer(t *Transport, addr string) *peer {
	var s [8]byte
	rand.Read(s[:])
	p := &peer{
		t:       t,
		addr:    addr,
		session: binary.LittleEndian.Uint64(s[:]) | 1, // never 0, which means none
		ready:   make(chan struct{}),
		dead:    make(chan struct{}),
		wlock:   make(chan struct{}, 1),
		clock:   make(chan struct{}, 1),
	}
	p.intrW = func() { p.deadline(false) }
	p.intrC = func() { p.deadline(true) }
	return p
}

// deadline interrupts a blocked write on a connection.
func (p *peer) deadline(control bool) {
	p.mu.Lock()
	c := p.data
	if control {
		c = p.ctrl
	}
	p.mu.Unlock()
	if c != nil {
		c.SetWriteDeadline(past)
	}
}

// connect starts connecting, once.
func (p *peer) connect() {
	p.connectOnce.Do(func() {
		if !p.t.goSafe(p.dial) {
			p.fail(allreduce.ErrClosed)
		}
	})
}

// dial makes the control connection, then the data connection, and starts
// the heartbeat.
func (p *peer) dial() {
	ctrl, err := p.dialConn(roleControl)
	if err != nil {
		p.fail(fmt.Errorf("connect: %w", err))
		return
	}
	data, err := p.dialConn(roleData)
	if err != nil {
		p.fail(fmt.Errorf("connect: %w", err))
		return
	}
	p.mu.Lock()
	if p.cause != nil {
		p.mu.Unlock()
		return // fail closed the connections
	}
	p.ctrl, p.data = ctrl, data
	p.mu.Unlock()
	close(p.ready)
	if !p.t.goSafe(p.heartbeat) {
		p.fail(allreduce.ErrClosed)
	}
}

// dialConn connects to the peer and runs the handshake for role.
func (p *peer) dialConn(role byte) (sock, error) {
	t := p.t
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	c, err := t.dial(t.ctx, &d, p.addr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	dead := p.cause != nil
	p.mu.Unlock()
	if dead {
		c.Close()
		return nil, errPeerDead
	}
	c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if err := clientHandshake(c, t.cfg.Secret, hello{role: role, session: p.session, addr: t.addr}, p.addr); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	tc, ok := c.(sock)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("tcptransport: dialled a %T", c)
	}
	t.tune(tc, role)
	return tc, nil
}

// fail marks the peer dead with cause (the first cause wins) and closes
// its connections, which ends its blocked writes and tells the peer.
func (p *peer) fail(cause error) {
	p.mu.Lock()
	if p.cause != nil {
		p.mu.Unlock()
		return
	}
	p.cause = cause
	conns := p.conns
	p.conns = nil
	close(p.dead)
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if !errors.Is(cause, allreduce.ErrClosed) && !errors.Is(cause, errDropped) {
		p.t.log.Info("tcptransport: peer lost", "addr", p.t.addr, "peer", p.addr, "err", cause)
	}
}

// errDropped: Configure dropped the peer (or replaced it).
var errDropped = errors.New("connection closed locally")

// close drops the peer (Configure, Close).
func (p *peer) close() {
	if p.t.isClosed() {
		p.fail(allreduce.ErrClosed)
		return
	}
	p.fail(errDropped)
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

// acquire waits for the connections, then for lock (wlock or clock).
func (p *peer) acquire(ctx context.Context, lock chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.ready:
	default:
		select {
		case <-p.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.dead:
			return errPeerDead
		case <-p.t.ctx.Done():
			return allreduce.ErrClosed
		}
	}
	select {
	case lock <- struct{}{}:
	default:
		select {
		case lock <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.dead:
			return errPeerDead
		case <-p.t.ctx.Done():
			return allreduce.ErrClosed
		}
	}
	if p.isDead() {
		<-lock
		return errPeerDead
	}
	return nil
}

// sendData writes one data message: header and payload in one writev,
// straight from payload, in the caller's goroutine. It blocks while the
// socket buffers are full (the flow control). If ctx ends in the middle of
// the message, the unsent tail is copied aside and a goroutine finishes
// the message (so the stream stays whole and payload is free when sendData
// returns); the next Send waits for it.
func (p *peer) sendData(ctx context.Context, h frameHeader, payload []byte) error {
	if err := p.acquire(ctx, p.wlock); err != nil {
		return err
	}
	raceRelease()
	h.put(&p.hdr)
	p.iov[0], p.iov[1] = p.hdr[:], payload
	p.bufs = p.iov[:]
	stop := watch(ctx, p.intrW)
	err := p.write(ctx, p.data, &p.bufs)
	stop()
	if err == nil {
		<-p.wlock
		return nil
	}
	if cerr := ctx.Err(); cerr == nil || err != cerr || p.isDead() || p.t.isClosed() {
		p.iov = [2][]byte{}
		<-p.wlock
		return p.failWrite(err)
	}
	// Cancelled.
	p.data.SetWriteDeadline(time.Time{})
	if sent := headerLen + len(payload) - buffered(p.bufs); sent == 0 {
		p.iov = [2][]byte{}
		<-p.wlock
		return ctx.Err()
	}
	p.rest = p.rest[:0]
	for _, b := range p.bufs {
		p.rest = append(p.rest, b...)
	}
	p.iov = [2][]byte{p.rest}
	p.bufs = p.iov[:1]
	if !p.t.goSafe(p.finish) {
		<-p.wlock
		return allreduce.ErrClosed
	}
	return ctx.Err()
}

// finish writes the tail of a cancelled Send and releases wlock.
func (p *peer) finish() {
	defer func() { <-p.wlock }()
	if err := p.write(context.Background(), p.data, &p.bufs); err != nil {
		p.failWrite(err)
	}
}

func buffered(b net.Buffers) int {
	n := 0
	for _, s := range b {
		n += len(s)
	}
	return n
}

// write writes bufs out to c, consuming them. A deadline met while ctx
// lives is a stray interrupt (the watch of an earlier context): the write
// goes on. It returns ctx's error, or the connection's.
func (p *peer) write(ctx context.Context, c sock, bufs *net.Buffers) error {
	for {
		_, err := bufs.WriteTo(c)
		if err == nil {
			return nil
		}
		if !isTimeout(err) || p.isDead() || p.t.isClosed() {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.SetWriteDeadline(time.Time{})
	}
}

// failWrite turns a failed write into Send's error, killing the peer.
func (p *peer) failWrite(err error) error {
	if p.t.isClosed() {
		p.fail(allreduce.ErrClosed)
		return allreduce.ErrClosed
	}
	p.fail(fmt.Errorf("write: %w", err))
	return errPeerDead
}

// abortTimeout bounds an abort's write when the caller set no deadline.
const abortTimeout = 5 * time.Second

// sendControl writes one frame on the control connection (an abort, or a
// heartbeat with ctx = the transport's). Control frames are small and the
// peer reads them at once, so the write does not wait for data flow
// control; if it is cut in the middle (ctx, timeout) the control stream is
// broken and the peer counts as lost.
func (p *peer) sendControl(ctx context.Context, h frameHeader, payload []byte) error {
	if err := p.acquire(ctx, p.clock); err != nil {
		return err
	}
	defer func() { <-p.clock }()
	deadline := time.Now().Add(abortTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	p.ctrl.SetWriteDeadline(deadline)
	raceRelease()
	h.put(&p.chdr)
	p.ciov[0], p.ciov[1] = p.chdr[:], payload
	p.cbufs = p.ciov[:]
	stop := watch(ctx, p.intrC)
	var err error
	for {
		_, err = p.cbufs.WriteTo(p.ctrl)
		if err == nil || !isTimeout(err) || ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		p.ctrl.SetWriteDeadline(deadline) // a stray interrupt
	}
	stop()
	p.ciov = [2][]byte{}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && buffered(p.cbufs) == headerLen+len(payload) {
		p.ctrl.SetWriteDeadline(time.Time{}) // nothing sent: the stream is whole
		return ctx.Err()
	}
	return p.failWrite(err)
}

// heartbeat sends a heartbeat every HeartbeatInterval on the control
// connection and reads the peer's answers; a peer silent for PeerTimeout
// is lost, as is one whose control connection ends.
func (p *peer) heartbeat() {
	cfg := p.t.cfg
	beat := frameHeader{Kind: kindHeartbeat}
	var buf [headerLen]byte
	n := 0
	last := time.Now()
	next := last
	for {
		now := time.Now()
		if now.Sub(last) > cfg.PeerTimeout {
			p.fail(fmt.Errorf("silent for %v", now.Sub(last).Round(time.Millisecond)))
			return
		}
		if !now.Before(next) {
			if err := p.sendControl(context.Background(), beat, nil); err != nil { // Close closes the connection
				if !errors.Is(err, errPeerDead) {
					p.fail(err)
				}
				return
			}
			next = now.Add(cfg.HeartbeatInterval)
		}
		p.ctrl.SetReadDeadline(next)
		k, err := p.ctrl.Read(buf[n:])
		if k > 0 {
			last = time.Now()
			n += k
			if n == headerLen {
				n = 0
				if _, err := decodeHeader(&buf, limits{control: true}); err != nil {
					p.fail(err)
					return
				}
			}
		}
		if err != nil && !isTimeout(err) {
			if errors.Is(err, io.EOF) {
				err = errors.New("connection closed by the peer")
			}
			if p.t.isClosed() {
				err = allreduce.ErrClosed
			}
			p.fail(err)
			return
		}
	}
}
