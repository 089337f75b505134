package grpctransport

import (
	"context"
	"net"

	"github.com/craftml/craft/allreduce/internal/samehost"
)

// localPrefix names this transport's local sockets: @craft-ring-grpc/<addr>.
const localPrefix = "craft-ring-grpc"

// listenLocal opens the transport's local socket, or returns nil when it
// cannot (another process holds the name, say): peers then use TCP.
func (t *Transport) listenLocal() net.Listener {
	if !t.cfg.LocalSockets || !samehost.Supported() {
		return nil
	}
	ln, err := samehost.Listen(localPrefix, t.addr)
	if err != nil {
		t.log.Debug("grpctransport: no local socket; same-host peers use TCP", "addr", t.addr, "err", err)
		return nil
	}
	return sizedListener{ln}
}

// localSocketBuffer is SO_SNDBUF and SO_RCVBUF of a local connection. A Unix
// socket does not grow its buffers as TCP does; with the default 208 KiB the
// writer stops every few HTTP/2 frames for the reader to catch up.
const localSocketBuffer = 4 << 20

// sizeBuffers gives a Unix connection localSocketBuffer-sized buffers.
func sizeBuffers(c net.Conn) net.Conn {
	if u, ok := c.(*net.UnixConn); ok {
		u.SetWriteBuffer(localSocketBuffer)
		u.SetReadBuffer(localSocketBuffer)
	}
	return c
}

// sizedListener sizes the buffers of the connections it accepts.
type sizedListener struct{ net.Listener }

func (l sizedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return sizeBuffers(c), nil
}

// dial is gRPC's dialer: the peer's local socket when it runs on this host,
// else TCP.
func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := samehost.Dial(ctx, &d, t.cfg.LocalSockets, localPrefix, addr)
	if err != nil {
		return nil, err
	}
	return sizeBuffers(c), nil
}
