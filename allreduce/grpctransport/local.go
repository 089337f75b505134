package grpctransport

import (
	"context"
	"net"

	"github.com/craftml/craft/allreduce/internal/samehost"
)

// localPrefix names this transport's local sockets: @craft-ring-grpc/<addr>.
const localPrefix = "craft-ring-grpc"

// localSocketBuffer is SO_SNDBUF and SO_RCVBUF of a local connection (see
// samehost.Listen): with the default 208 KiB the grpc ring was slower over
// the Unix socket than over TCP loopback.
const localSocketBuffer = 4 << 20

// listenLocal opens the transport's local socket, or returns nil when it
// cannot (another process holds the name, say): peers then use TCP.
func (t *Transport) listenLocal() net.Listener {
	if !t.cfg.LocalSockets || !samehost.Supported() {
		return nil
	}
	ln, err := samehost.Listen(localPrefix, t.addr, localSocketBuffer)
	if err != nil {
		t.log.Debug("grpctransport: no local socket; same-host peers use TCP", "addr", t.addr, "err", err)
		return nil
	}
	return ln
}

// dial is gRPC's dialer: the peer's local socket when it runs on this host,
// else TCP.
func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return samehost.Dial(ctx, &d, t.cfg.LocalSockets, localPrefix, addr, localSocketBuffer)
}
