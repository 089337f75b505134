package tcptransport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// handshakePair runs clientHandshake and serverHandshake against each
// other over an in-memory pipe and returns their results.
func handshakePair(t *testing.T, clientSecret, serverSecret []byte, h hello, want, self string) (clientErr error, got hello, serverErr error) {
	t.Helper()
	c, s := net.Pipe()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	s.SetDeadline(time.Now().Add(5 * time.Second))
	done := make(chan error, 1)
	go func() {
		err := clientHandshake(c, clientSecret, h, want)
		c.Close() // a side that gives up closes, as the transport does
		done <- err
	}()
	got, serverErr = serverHandshake(s, serverSecret, self)
	s.Close()
	return <-done, got, serverErr
}

func TestHandshake(t *testing.T) {
	other := []byte("another-secret-of-sixteen-bytes")
	h := hello{role: roleData, session: 0xfeed, addr: "10.0.0.1:7071"}
	tests := []struct {
		name             string
		client, server   []byte
		want, self       string
		clientOK, srvrOK bool
	}{
		{"same secret", testSecret, testSecret, "10.0.0.2:7071", "10.0.0.2:7071", true, true},
		{"both insecure", nil, nil, "10.0.0.2:7071", "10.0.0.2:7071", true, true},
		{"client has another secret", other, testSecret, "10.0.0.2:7071", "10.0.0.2:7071", false, false},
		{"server has another secret", testSecret, other, "10.0.0.2:7071", "10.0.0.2:7071", false, false},
		{"insecure client, secure server", nil, testSecret, "10.0.0.2:7071", "10.0.0.2:7071", false, false},
		{"the endpoint is another address", testSecret, testSecret, "10.0.0.3:7071", "10.0.0.2:7071", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cerr, got, serr := handshakePair(t, tc.client, tc.server, h, tc.want, tc.self)
			if (cerr == nil) != tc.clientOK || (serr == nil) != tc.srvrOK {
				t.Fatalf("handshake: client %v, server %v; want client ok=%v, server ok=%v", cerr, serr, tc.clientOK, tc.srvrOK)
			}
			for _, err := range []error{cerr, serr} {
				if err != nil && !errors.Is(err, ErrHandshake) {
					t.Errorf("handshake error %v does not wrap ErrHandshake", err)
				}
			}
			if tc.srvrOK && got != h {
				t.Errorf("server saw hello %+v; want %+v", got, h)
			}
		})
	}
}

func TestHandshakeRefusesGarbage(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 64)))},
		{"zeros", make([]byte, 64)},
		{"bad role", append([]byte(handshakeMagic+"\x07\x01"), make([]byte, 8+nonceLen+1)...)},
		{"empty address", append([]byte(handshakeMagic+"\x01\x00"), make([]byte, 8+nonceLen)...)},
		{"short", []byte(handshakeMagic)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := net.Pipe()
			s.SetDeadline(time.Now().Add(5 * time.Second))
			go func() {
				c.Write(tc.in)
				c.Close()
			}()
			_, err := serverHandshake(s, testSecret, "10.0.0.2:7071")
			s.Close()
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("serverHandshake(%q) = %v; want ErrHandshake", tc.in, err)
			}
		})
	}
}

// TestWrongSecretRefused: a transport with another secret cannot send to
// this one; the attempt is counted, and the right secret still works.
func TestWrongSecretRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"another secret", func(c *Config) { c.Secret = []byte("the-wrong-join-token") }},
		{"insecure", func(c *Config) { c.Secret, c.Insecure = nil, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := newTransport(t, testConfig())
			cfg := testConfig()
			tc.cfg(&cfg)
			bad := newTransport(t, cfg)
			friend := newTransport(t, testConfig())
			peers := []string{bad.Addr(), good.Addr(), friend.Addr()}
			ctx := context.Background()
			for rank, tr := range []*Transport{bad, good, friend} {
				if err := tr.Configure(ctx, allreduce.Membership{Run: 1, Gen: 1, Rank: rank, Peers: peers}); err != nil {
					t.Fatal(err)
				}
			}
			err := bad.Send(ctx, 1, allreduce.Header{Run: 1, Gen: 1}, []byte("hi"))
			var pe *allreduce.PeerError
			if !errors.Is(err, allreduce.ErrPeerLost) || !errors.Is(err, ErrHandshake) || !errors.As(err, &pe) || pe.Rank != 1 {
				t.Fatalf("Send with the wrong secret = %v; want ErrPeerLost and ErrHandshake naming rank 1", err)
			}
			// The endpoint counts the refusal once the client gave up.
			waitFor(t, "Refused() >= 1", func() bool { return good.Refused() >= 1 })
			if err := friend.Send(ctx, 1, allreduce.Header{Run: 1, Gen: 1, From: 2}, []byte("hi")); err != nil {
				t.Fatalf("Send with the right secret = %v; want nil", err)
			}
			dst := make([]byte, 8)
			if _, k, err := good.Recv(ctx, 2, dst); err != nil || string(dst[:k]) != "hi" {
				t.Fatalf("Recv = %q, %v; want \"hi\", nil", dst[:k], err)
			}
		})
	}
}

// waitFor polls cond until it holds, failing tb after five seconds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still false after 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
