package tcptransport

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/craftml/craft/allreduce"
)

// link is the receiving side from one sender address: the sender's current
// session (its data and control connections), the aborts it sent, and the
// state of reading its data connection. There is no reader goroutine for
// data: Recv reads the socket itself, the header into a small array and the
// payload straight into the caller's buffer (RecvLend: into the link's
// buffer). The kernel's socket buffers are the queue. A goroutine per
// session serves the control connection: it answers heartbeats and queues
// aborts, and interrupts a blocked Recv (by a read deadline in the past) so
// that it returns the abort first.
type link struct {
	t      *Transport
	addr   string
	notify chan struct{} // kicked when a connection, an abort or a loss arrives
	intr   func()        // l.interrupt, bound once

	mu      sync.Mutex
	closed  bool
	session uint64 // 0: none yet
	data    sock
	ctrl    sock
	aborts  []abortMsg
	lost    error     // the session ended; cleared by a new session or Configure
	lostAt  time.Time // when lost was set

	// dirty says a read deadline in the past may be set on data.
	dirty atomic.Bool

	// The read state of data, owned by the one goroutine in Recv (the
	// contract allows one Recv per peer at a time).
	rc        sock // the connection the state belongs to
	hb        [headerLen]byte
	hn        int         // header bytes read so far
	held      bool        // hdr is parsed, its payload not read
	hdr       frameHeader //
	skip      int         // payload bytes of a consumed message still unread
	needReset bool        // the read deadline must be set again
	buf       []byte      // the lent payload, or discarded bytes
}

// abortMsg is a received abort (small: its payload is copied).
type abortMsg struct {
	hdr     frameHeader
	payload []byte
}

// maxHeldAborts bounds the aborts queued from one sender; beyond, the
// oldest is dropped.
const maxHeldAborts = 64

// discardBytes is the buffer for skipping refused payloads.
const discardBytes = 64 << 10

func newLink(t *Transport, addr string) *link {
	l := &link{t: t, addr: addr, notify: make(chan struct{}, 1)}
	l.intr = l.interrupt
	return l
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// stale reports whether a message of h is refused under (run, gen).
func stale(h frameHeader, run, gen uint64) bool { return h.Run != run || h.Gen < gen }

// lostError carries the cause of a loss out of link.recv.
type lostError struct{ cause error }

func (e *lostError) Error() string { return e.cause.Error() }

// useError carries the error of RecvLend's use out of link.recv.
type useError struct{ err error }

func (e *useError) Error() string { return e.err.Error() }

// interrupt makes a blocked read of the data connection return at once;
// the reader then looks at what changed.
func (l *link) interrupt() {
	l.dirty.Store(true)
	l.mu.Lock()
	c := l.data
	l.mu.Unlock()
	if c != nil {
		c.SetReadDeadline(past)
	}
}

// newSessionLocked forgets the previous session of the sender. l.mu held.
func (l *link) newSessionLocked(session uint64) {
	if l.data != nil {
		l.data.Close()
	}
	if l.ctrl != nil {
		l.ctrl.Close()
	}
	l.session, l.data, l.ctrl, l.lost = session, nil, nil, nil
}

// attach makes c the connection *slot (l.data or l.ctrl; role names it) of
// session: a newer session replaces the link's state, a second connection
// of the same role in one session is refused. It reports whether c was
// attached; if not, c is closed.
func (l *link) attach(session uint64, c sock, slot *sock, role string) bool {
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		c.Close()
		return false
	case session != l.session:
		l.newSessionLocked(session)
	case *slot != nil || l.lost != nil:
		l.mu.Unlock()
		l.t.refuse(c, fmt.Errorf("a second %s connection of session %x from %s", role, session, l.addr))
		return false
	}
	*slot = c
	l.mu.Unlock()
	return true
}

// attachData makes c the data connection of session.
func (l *link) attachData(session uint64, c sock) {
	if l.attach(session, c, &l.data, "data") {
		kick(l.notify)
	}
}

// serveControl serves c, the control connection of session, until it
// ends: it answers heartbeats, queues aborts, and marks the sender lost
// when the connection ends or falls silent for PeerTimeout.
func (l *link) serveControl(session uint64, c sock) {
	if !l.attach(session, c, &l.ctrl, "control") {
		return
	}

	cfg := l.t.cfg
	lim := limits{control: true, maxData: cfg.MaxPayloadBytes}
	var ack, hb [headerLen]byte
	frameHeader{Kind: kindHeartbeat}.put(&ack)
	for {
		c.SetReadDeadline(time.Now().Add(cfg.PeerTimeout))
		if _, err := io.ReadFull(c, hb[:]); err != nil {
			l.end(c, readCause(err, cfg.PeerTimeout), isTimeout(err))
			return
		}
		h, err := decodeHeader(&hb, lim)
		if err != nil {
			l.end(c, err, true)
			return
		}
		switch h.Kind {
		case kindHeartbeat:
			c.SetWriteDeadline(time.Now().Add(cfg.PeerTimeout))
			if _, err := c.Write(ack[:]); err != nil {
				l.end(c, fmt.Errorf("answer heartbeat: %w", err), true)
				return
			}
		case kindAbort:
			p := make([]byte, h.Len)
			if _, err := io.ReadFull(c, p); err != nil {
				l.end(c, readCause(err, cfg.PeerTimeout), true)
				return
			}
			l.pushAbort(abortMsg{hdr: h, payload: p})
		}
	}
}

// readCause describes a failed read from a peer.
func readCause(err error, timeout time.Duration) error {
	switch {
	case isTimeout(err):
		return fmt.Errorf("silent for %v", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("connection closed by the peer")
	}
	return err
}

func (l *link) pushAbort(m abortMsg) {
	l.mu.Lock()
	if len(l.aborts) == maxHeldAborts {
		l.aborts = l.aborts[1:]
	}
	l.aborts = append(l.aborts, m)
	l.mu.Unlock()
	kick(l.notify)
	l.interrupt()
}

// end records that the control connection c ended with cause. If cut, the
// sender is gone for good (silent, or speaking garbage) and its data
// connection is closed too; otherwise (the sender closed or died) the data
// connection ends by itself, after what was sent before, which Recv still
// delivers (for at most PeerTimeout).
func (l *link) end(c sock, cause error, cut bool) {
	c.Close()
	l.mu.Lock()
	if l.closed || l.ctrl != c {
		l.mu.Unlock()
		return // replaced by a new session, or the transport closed
	}
	l.ctrl = nil
	if l.lost == nil {
		l.lost, l.lostAt = cause, time.Now()
		if cut && l.data != nil {
			l.data.Close()
		}
	}
	l.mu.Unlock()
	if !l.t.isClosed() {
		l.t.log.Info("tcptransport: sender lost", "addr", l.t.addr, "peer", l.addr, "err", cause)
	}
	kick(l.notify)
	l.interrupt()
}

// reconfigure drops the aborts refused under (run, gen) and forgets a lost
// session: the new generation waits for the sender to connect again.
func (l *link) reconfigure(run, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.aborts[:0]
	for _, m := range l.aborts {
		if !stale(m.hdr, run, gen) {
			keep = append(keep, m)
		}
	}
	clear(l.aborts[len(keep):])
	l.aborts = keep
	if l.lost != nil {
		l.newSessionLocked(0)
	}
}

// close closes the link's connections (Transport.Close).
func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.newSessionLocked(0)
}

// takeAbortLocked returns the next abort deliverable under (run, gen),
// dropping stale ones; one of a newer generation stays queued, and the
// error says so. l.mu held.
func (l *link) takeAbortLocked(run, gen uint64) (m abortMsg, err error, ok bool) {
	for len(l.aborts) > 0 {
		m = l.aborts[0]
		if stale(m.hdr, run, gen) {
			l.aborts = l.aborts[1:]
			continue
		}
		if m.hdr.Gen > gen {
			return m, fmt.Errorf("%w: %v, configured %d", allreduce.ErrFutureGeneration, m.hdr.header(), gen), true
		}
		l.aborts = l.aborts[1:]
		return m, nil, true
	}
	return abortMsg{}, nil, false
}
