package tcptransport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/craftml/craft/allreduce"
)

// This file holds the reading of a link's data connection: Recv and
// RecvLend, straight from the socket.

// errSwitched: the data connection was replaced under the reader.
var errSwitched = errors.New("connection replaced by a new session")

// recv is Recv (use == nil: the payload goes into dst) and RecvLend (use
// != nil); out is the sending side to the same peer, whose death ends the
// wait for a sender that has not connected. It returns the header, the payload length and an error: the
// context's, allreduce.ErrClosed, a *lostError, a *useError, or one
// wrapping allreduce.ErrFutureGeneration or ErrMessageTooLarge.
//
// A Recv interrupted (ctx, Close) while a payload is arriving consumes that
// message: the rest of it is skipped by the next Recv. (The Ring spends the
// generation when an operation fails, so nothing waits for it.)
func (l *link) recv(ctx context.Context, out *peer, run, gen uint64, dst []byte, use func(allreduce.Header, []byte) error) (allreduce.Header, int, error) {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		// Clear an interrupt's deadline before looking at the reasons for
		// it: an interrupt after this point makes the read below return.
		if l.rc != nil && (l.needReset || l.dirty.Swap(false)) {
			l.resetDeadline(l.rc)
		}
		if l.t.isClosed() {
			return allreduce.Header{}, 0, allreduce.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return allreduce.Header{}, 0, err
		}
		l.mu.Lock()
		m, aerr, found := l.takeAbortLocked(run, gen)
		c, lost := l.data, l.lost
		l.mu.Unlock()
		if found {
			return l.deliverAbort(m, aerr, dst, use)
		}
		if c != l.rc {
			l.rc, l.hn, l.held, l.skip, l.needReset = c, 0, false, 0, true
			if c != nil {
				continue
			}
		}
		if c == nil {
			if lost != nil {
				return allreduce.Header{}, 0, &lostError{lost}
			}
			select {
			case <-l.notify:
			case <-ctx.Done():
			case <-l.t.ctx.Done():
			case <-out.dead:
				// The sender never connected, and our own connection to
				// it broke: it is gone (perhaps before it sent anything).
				return allreduce.Header{}, 0, &lostError{out.err()}
			}
			continue
		}
		if stop == nil {
			stop = watch(ctx, l.intr)
		}
		switch {
		case l.skip > 0:
			k, err := c.Read(l.buffer(min(l.skip, discardBytes)))
			l.skip -= k
			if err != nil {
				if err := l.readErr(c, err); err != nil && err != errSwitched {
					return allreduce.Header{}, 0, err
				}
			}
			continue
		case !l.held:
			k, err := c.Read(l.hb[l.hn:])
			l.hn += k
			if l.hn == headerLen {
				h, herr := decodeHeader(&l.hb, l.t.lim)
				if herr != nil {
					return allreduce.Header{}, 0, l.broken(c, herr)
				}
				l.hn, l.held, l.hdr = 0, true, h
			} else if err != nil {
				if err := l.readErr(c, err); err != nil && err != errSwitched {
					return allreduce.Header{}, 0, err
				}
				continue
			} else {
				continue
			}
		}
		fh := l.hdr
		if stale(fh, run, gen) {
			l.held, l.skip = false, int(fh.Len)
			l.t.dropped.Add(1)
			continue
		}
		if fh.Gen > gen {
			return fh.header(), 0, fmt.Errorf("%w: %v, configured %d", allreduce.ErrFutureGeneration, fh.header(), gen)
		}
		l.held = false
		n := int(fh.Len)
		var p []byte
		if use == nil {
			if n > len(dst) {
				l.skip = n
				return fh.header(), 0, fmt.Errorf("%w: %v: %d bytes into %d", allreduce.ErrMessageTooLarge, fh.header(), n, len(dst))
			}
			p = dst[:n]
		} else {
			p = l.buffer(n)
		}
		if err := l.fill(ctx, c, p); err != nil {
			return allreduce.Header{}, 0, err
		}
		raceAcquire()
		if use != nil {
			if err := use(fh.header(), p); err != nil {
				return allreduce.Header{}, 0, &useError{err}
			}
		}
		return fh.header(), n, nil
	}
}

// deliverAbort hands a queued abort to Recv or RecvLend.
func (l *link) deliverAbort(m abortMsg, err error, dst []byte, use func(allreduce.Header, []byte) error) (allreduce.Header, int, error) {
	raceAcquire()
	h := m.hdr.header()
	switch {
	case err != nil:
		return h, 0, err
	case use != nil:
		if err := use(h, m.payload); err != nil {
			return allreduce.Header{}, 0, &useError{err}
		}
		return h, len(m.payload), nil
	}
	n := copy(dst, m.payload)
	if n < len(m.payload) {
		return h, n, fmt.Errorf("%w: %v: %d bytes into %d", allreduce.ErrMessageTooLarge, h, len(m.payload), len(dst))
	}
	return h, n, nil
}

// fill reads len(p) payload bytes from c. Interrupts for aborts do not
// stop it (the message is being delivered); ctx, Close and a loss do, and
// the rest of the message is then skipped by the next Recv.
func (l *link) fill(ctx context.Context, c sock, p []byte) error {
	for len(p) > 0 {
		k, err := c.Read(p)
		p = p[k:]
		if err == nil {
			continue
		}
		l.skip = len(p)
		if err := l.readErr(c, err); err != nil {
			if err == errSwitched {
				return &lostError{err}
			}
			return err
		}
		l.resetDeadline(c) // before looking at ctx, as in recv
		if err := ctx.Err(); err != nil {
			return err
		}
		l.skip = 0
	}
	return nil
}

// readErr sorts out a failed read of c: nil for an interrupt (the caller
// goes on), errSwitched if c was replaced, otherwise the error to return
// (the sender is then lost, and its connections closed).
func (l *link) readErr(c sock, err error) error {
	if l.t.isClosed() {
		return allreduce.ErrClosed
	}
	timeout := isTimeout(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.data != c:
		return errSwitched
	case timeout && (l.lost == nil || time.Since(l.lostAt) < l.t.cfg.PeerTimeout):
		l.needReset = true
		return nil
	case l.lost == nil:
		l.lost, l.lostAt = readCause(err, l.t.cfg.PeerTimeout), time.Now()
	}
	c.Close()
	if l.ctrl != nil {
		l.ctrl.Close()
	}
	return &lostError{l.lost}
}

// broken drops the session of a sender that sent a malformed header.
func (l *link) broken(c sock, cause error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil && l.data == c {
		l.lost, l.lostAt = cause, time.Now()
	}
	c.Close()
	if l.data == c && l.ctrl != nil {
		l.ctrl.Close()
	}
	l.t.log.Warn("tcptransport: protocol error", "addr", l.t.addr, "peer", l.addr, "err", cause)
	return &lostError{cause}
}

// resetDeadline clears the read deadline of c, or sets it to when a
// session whose control connection ended stops waiting for the rest of its
// data.
func (l *link) resetDeadline(c sock) {
	l.mu.Lock()
	var d time.Time
	if l.lost != nil {
		d = l.lostAt.Add(l.t.cfg.PeerTimeout)
	}
	l.mu.Unlock()
	l.needReset = false
	c.SetReadDeadline(d)
}

// buffer returns the link's buffer with n bytes.
func (l *link) buffer(n int) []byte {
	if cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	return l.buf[:n]
}
