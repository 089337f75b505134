package tcptransport

import (
	"context"
	"net"

	"github.com/craftml/craft/allreduce/internal/samehost"
)

// sock is a connection to or from a peer: TCP, or a Unix stream socket
// when the peer runs on the same host (Config.LocalSockets). Both write a
// net.Buffers with one writev.
type sock interface {
	net.Conn
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// localPrefix names this transport's local sockets: @craft-ring/<addr>.
const localPrefix = "craft-ring"

// localSocketName is the abstract Unix socket on which the transport
// advertised at addr also listens.
func localSocketName(addr string) string { return samehost.Name(localPrefix, addr) }

// localSocketsSupported reports whether this OS has abstract Unix sockets.
func localSocketsSupported() bool { return samehost.Supported() }

// listenLocal opens the transport's local socket, or returns nil when it
// cannot (another process holds the name, say): peers then use TCP.
func (t *Transport) listenLocal() net.Listener {
	if !t.cfg.LocalSockets || !localSocketsSupported() {
		return nil
	}
	ln, err := samehost.Listen(localPrefix, t.addr, 0) // tune sizes data connections by role
	if err != nil {
		t.log.Debug("tcptransport: no local socket; same-host peers use TCP", "addr", t.addr, "err", err)
		return nil
	}
	return ln
}

// dial connects to the peer advertised at addr: over its local socket when
// addr's IP belongs to this host and the socket answers from a process of
// this user, else over TCP. The handshake that follows checks, either way,
// that the peer at the other end is the one advertised at addr.
func (t *Transport) dial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	return samehost.Dial(ctx, d, t.cfg.LocalSockets, localPrefix, addr, 0)
}
