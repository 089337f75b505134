package grpctransport

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc/stats"
)

// inConn is one inbound connection: the inboxes of the senders seen on it.
// When it ends (the peer closed it, crashed, or the server's keepalive found
// it silent) those senders count as lost, which a Recv learns at once; the
// end of a single stream does not count (a sender cancels a stream when a
// Send is cancelled, and opens another on the same connection).
type inConn struct {
	mu      sync.Mutex
	inboxes map[*inbox]struct{}
	ended   bool
}

// add records that in's sender talks over c; if c already ended, in is
// marked lost at once.
func (c *inConn) add(in *inbox) {
	c.mu.Lock()
	ended := c.ended
	if !ended {
		if c.inboxes == nil {
			c.inboxes = map[*inbox]struct{}{}
		}
		c.inboxes[in] = struct{}{}
	}
	c.mu.Unlock()
	if ended {
		in.connLost(errConnEnded)
	}
}

func (c *inConn) end() {
	c.mu.Lock()
	c.ended = true
	inboxes := c.inboxes
	c.inboxes = nil
	c.mu.Unlock()
	for in := range inboxes {
		in.connLost(errConnEnded)
	}
}

var errConnEnded = errors.New("connection from the peer ended")

type connKey struct{}

// connWatch is the server's stats.Handler: it tags each inbound connection
// with an inConn and ends it with the connection.
type connWatch struct{}

func (connWatch) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, new(inConn))
}

func (connWatch) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); ok {
		if c, ok := ctx.Value(connKey{}).(*inConn); ok {
			c.end()
		}
	}
}

func (connWatch) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connWatch) HandleRPC(context.Context, stats.RPCStats)                       {}

// connOf returns the inbound connection a call came on, if known.
func connOf(ctx context.Context) *inConn {
	c, _ := ctx.Value(connKey{}).(*inConn)
	return c
}
