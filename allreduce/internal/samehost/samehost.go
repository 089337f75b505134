// Package samehost lets a ring transport reach a peer that runs on the same
// host over an abstract Unix socket instead of TCP loopback. A Unix stream
// socket costs the kernel about half the CPU per byte of TCP loopback (a
// writer/reader pair moves 7.9-8.1 GB/s over one against 3.6-4.4 GB/s over
// TCP, for the same CPU); everything above the socket stays the same.
//
// A transport advertised at addr listens on Name(prefix, addr) besides its
// TCP listener, and dials a peer with Dial, which tries the peer's local
// socket first when addr's IP belongs to this host. Abstract sockets have no
// file and no permissions, and belong to the network namespace, as the
// peer's IP does; any process of the namespace may bind a free name. So
// Dial uses a local socket only when the process listening on it runs as
// this process's user (SO_PEERCRED), else TCP: another user cannot take the
// place of a peer by binding its name first.
package samehost

import (
	"context"
	"net"
	"runtime"
)

// Supported reports whether this OS has abstract Unix sockets (Linux).
func Supported() bool { return runtime.GOOS == "linux" }

// Name is the abstract Unix socket (no file; gone with the process) on
// which the transport of kind prefix advertised at addr also listens.
func Name(prefix, addr string) string { return "@" + prefix + "/" + addr }

// Listen opens the local socket of the transport advertised at addr. The
// connections it accepts get send and receive buffers of bufBytes (0: the
// kernel's default): a Unix socket does not grow them as TCP does, and with
// the default 208 KiB a fast writer stops every few hundred KiB for the
// reader to catch up.
func Listen(prefix, addr string, bufBytes int) (net.Listener, error) {
	ln, err := net.Listen("unix", Name(prefix, addr))
	if err != nil || bufBytes <= 0 {
		return ln, err
	}
	return sizedListener{ln, bufBytes}, nil
}

// Dial connects to the peer advertised at addr: over its local socket when
// local is true, the OS has them, addr's IP belongs to this host and the
// socket answers from a process of this user, with buffers of bufBytes as
// Listen sets them; else over TCP.
func Dial(ctx context.Context, d *net.Dialer, local bool, prefix, addr string, bufBytes int) (net.Conn, error) {
	if local && Supported() && IsLocal(addr) {
		if c, err := d.DialContext(ctx, "unix", Name(prefix, addr)); err == nil {
			if sameUser(c) {
				return sizeBuffers(c, bufBytes), nil
			}
			c.Close()
		}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// sizeBuffers sets a Unix connection's buffers to bufBytes, if > 0.
func sizeBuffers(c net.Conn, bufBytes int) net.Conn {
	if u, ok := c.(*net.UnixConn); ok && bufBytes > 0 {
		u.SetWriteBuffer(bufBytes)
		u.SetReadBuffer(bufBytes)
	}
	return c
}

// sizedListener sizes the buffers of the connections it accepts.
type sizedListener struct {
	net.Listener
	bufBytes int
}

func (l sizedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return sizeBuffers(c, l.bufBytes), nil
}

// IsLocal reports whether addr's host is an IP of this host (loopback or an
// interface's). Names are not resolved: they use TCP.
func IsLocal(addr string) bool {
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
