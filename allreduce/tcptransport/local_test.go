package tcptransport

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// connKinds sends one message from ts[0] to ts[1] and returns the types of
// ts[0]'s data and control connections to it.
func connKinds(t *testing.T, ts []*Transport) (data, ctrl string) {
	t.Helper()
	ctx := context.Background()
	peers := []string{ts[0].Addr(), ts[1].Addr()}
	for rank, tr := range ts {
		if err := tr.Configure(ctx, allreduce.Membership{Run: 1, Gen: 1, Rank: rank, Peers: peers}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts[0].Send(ctx, 1, allreduce.Header{Run: 1, Gen: 1}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if _, n, err := ts[1].Recv(ctx, 0, buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Recv = %q, %v; want hello", buf[:n], err)
	}
	p, err := ts[0].peer(1)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%T", p.data), fmt.Sprintf("%T", p.ctrl)
}

// TestLocalSockets: peers on this host talk over the local Unix sockets;
// with LocalSockets off on either side, over TCP.
func TestLocalSockets(t *testing.T) {
	if !localSocketsSupported() {
		t.Skip("no abstract Unix sockets on this OS: every peer uses TCP")
	}
	unix, tcp := fmt.Sprintf("%T", &net.UnixConn{}), fmt.Sprintf("%T", &net.TCPConn{})
	off := testConfig()
	off.LocalSockets = false
	for _, tc := range []struct {
		name       string
		cfg0, cfg1 Config
		want       string
	}{
		{"both on", testConfig(), testConfig(), unix},
		{"dialler off", off, testConfig(), tcp},
		{"listener off", testConfig(), off, tcp}, // no local socket to dial: TCP
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := []*Transport{newTransport(t, tc.cfg0), newTransport(t, tc.cfg1)}
			data, ctrl := connKinds(t, ts)
			if data != tc.want || ctrl != tc.want {
				t.Errorf("connections data %s, control %s; want %s", data, ctrl, tc.want)
			}
		})
	}
}

// TestLocalSocketNeedsHandshake: the local socket is no way around the
// handshake: a connection to it without the secret is refused.
func TestLocalSocketNeedsHandshake(t *testing.T) {
	if !localSocketsSupported() {
		t.Skip("no abstract Unix sockets on this OS")
	}
	tr := newTransport(t, testConfig())
	c, err := net.Dial("unix", localSocketName(tr.Addr()))
	if err != nil {
		t.Fatalf("dial the local socket: %v", err)
	}
	defer c.Close()
	wrong := []byte("not the secret, but as long as one")
	if err := clientHandshake(c, wrong, hello{role: roleData, session: 1, addr: "127.0.0.1:1"}, tr.Addr()); err == nil {
		t.Fatal("handshake with a wrong secret over the local socket succeeded; want it refused")
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tr.Refused() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the transport did not count the local connection without the secret as refused")
		}
		time.Sleep(time.Millisecond)
	}
}
