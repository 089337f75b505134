package tcptransport

import (
	"context"
	"net"
	"runtime"
)

// sock is a connection to or from a peer: TCP, or a Unix stream socket
// when the peer runs on the same host (Config.LocalSockets). Both write a
// net.Buffers with one writev.
type sock interface {
	net.Conn
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// localSocketName is the abstract Unix socket (Linux; no file, gone with
// the process) on which the transport advertised at addr also listens.
// Abstract sockets belong to a network namespace, as the peer's IP does: a
// peer whose IP is local to this namespace can be reached there.
func localSocketName(addr string) string { return "@craft-ring/" + addr }

// localSocketsSupported reports whether this OS has abstract Unix sockets.
func localSocketsSupported() bool { return runtime.GOOS == "linux" }

// listenLocal opens the transport's local socket, or returns nil when it
// cannot (another process holds the name, say): peers then use TCP.
func (t *Transport) listenLocal() net.Listener {
	if !t.cfg.LocalSockets || !localSocketsSupported() {
		return nil
	}
	ln, err := net.Listen("unix", localSocketName(t.addr))
	if err != nil {
		t.log.Debug("tcptransport: no local socket; same-host peers use TCP", "addr", t.addr, "err", err)
		return nil
	}
	return ln
}

// dial connects to the peer advertised at addr: over its local socket when
// addr's IP belongs to this host and the socket answers, else over TCP. The
// handshake that follows checks, either way, that the peer at the other end
// is the one advertised at addr.
func (t *Transport) dial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	if t.cfg.LocalSockets && localSocketsSupported() && isLocalAddr(addr) {
		if c, err := d.DialContext(ctx, "unix", localSocketName(addr)); err == nil {
			return c, nil
		}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// isLocalAddr reports whether addr's host is an IP of this host (loopback
// or an interface's). Names are not resolved: they use TCP.
func isLocalAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
