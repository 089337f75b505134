package grpctransport

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/internal/samehost"
)

const testRun = 0x7e57

// pair returns two transports configured as ranks 0 and 1 of generation gen.
func pair(t *testing.T, gen uint64) (a, b *Transport) {
	t.Helper()
	return pairWith(t, gen, testConfig(), testConfig())
}

// pairWith is pair with rank 0 made from cfg0 and rank 1 from cfg1.
func pairWith(t *testing.T, gen uint64, cfg0, cfg1 Config) (a, b *Transport) {
	t.Helper()
	a = newClusterWith(t, 1, cfg0)[0].(*Transport)
	b = newClusterWith(t, 1, cfg1)[0].(*Transport)
	peers := []string{a.Addr(), b.Addr()}
	for r, tr := range []*Transport{a, b} {
		if err := tr.Configure(context.Background(), allreduce.Membership{Run: testRun, Gen: gen, Rank: r, Peers: peers}); err != nil {
			t.Fatalf("Configure(rank %d) = %v; want nil", r, err)
		}
	}
	return a, b
}

// TestStaleRefusedOnArrival checks that messages of an older generation or
// another run are dropped by the receiving server as they arrive (counted,
// never queued), whatever their size, and that the current ones around them
// arrive intact and in order.
func TestStaleRefusedOnArrival(t *testing.T) {
	a, b := pair(t, 5)
	ctx := context.Background()
	big := make([]byte, 100<<10) // sent without a copy
	for i := range big {
		big[i] = byte(i)
	}
	sends := []struct {
		name    string
		run     uint64
		gen     uint64
		payload []byte
		fresh   bool
	}{
		{"old generation", testRun, 4, []byte("stale"), false},
		{"current", testRun, 5, []byte("one"), true},
		{"old generation, zero copy", testRun, 1, big, false},
		{"other run", testRun + 1, 5, []byte("alien"), false},
		{"current, zero copy", testRun, 5, big, true},
		{"other run, newer generation", testRun + 1, 9, []byte("alien"), false},
	}
	for i, s := range sends {
		h := allreduce.Header{Run: s.run, Gen: s.gen, Step: uint64(i)}
		if err := a.Send(ctx, 1, h, s.payload); err != nil {
			t.Fatalf("Send(%s) = %v; want nil", s.name, err)
		}
	}
	dst := make([]byte, len(big))
	for i, s := range sends {
		if !s.fresh {
			continue
		}
		h, n, err := b.Recv(ctx, 0, dst)
		if err != nil || h.Step != uint64(i) || string(dst[:n]) != string(s.payload) {
			t.Fatalf("Recv = %v, %d bytes, %v; want step %d (%s), %d bytes", h, n, err, i, s.name, len(s.payload))
		}
	}
	// The stale ones were refused on arrival, not merely skipped by Recv.
	deadline := time.Now().Add(2 * time.Second)
	for b.refused.Load() != 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := b.refused.Load(); got != 4 {
		t.Errorf("refused = %d; want 4 (two older generations, two other runs)", got)
	}
	in := b.inboxes[0]
	in.mu.Lock()
	queued := in.n
	in.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d messages still queued; want 0", queued)
	}
}

// TestConfigureDropsHeldAndReusesServer checks that messages queued before a
// new generation are dropped by Configure, and that the server, its address
// and the connections survive the change of generation.
func TestConfigureDropsHeldAndReusesServer(t *testing.T) {
	a, b := pair(t, 1)
	ctx := context.Background()
	if err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 1}, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// Wait until it is queued at b.
	in := b.inboxes[0]
	for deadline := time.Now().Add(2 * time.Second); ; {
		in.mu.Lock()
		n := in.n
		in.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached b")
		}
		time.Sleep(time.Millisecond)
	}
	addr, peer := b.Addr(), a.peers[1]
	peers := []string{a.Addr(), b.Addr()}
	for r, tr := range []*Transport{a, b} {
		if err := tr.Configure(ctx, allreduce.Membership{Run: testRun, Gen: 2, Rank: r, Peers: peers}); err != nil {
			t.Fatalf("Configure(gen 2, rank %d) = %v", r, err)
		}
	}
	if b.Addr() != addr || a.peers[1] != peer {
		t.Errorf("after Configure: addr %s, peer %p; want the same server %s and connection %p", b.Addr(), a.peers[1], addr, peer)
	}
	if err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 2}, []byte("new")); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 8)
	h, n, err := b.Recv(ctx, 0, dst)
	if err != nil || h.Gen != 2 || string(dst[:n]) != "new" {
		t.Fatalf("Recv = %v %q, %v; want gen 2 \"new\" (gen 1 dropped by Configure)", h, dst[:n], err)
	}
}

// kill stops tr's gRPC server and listener abruptly, as a crash would: no
// goodbye on the streams, the sockets just close.
func kill(tr *Transport) { tr.srv.Stop() }

// TestKilledPeer checks that a peer whose server dies abruptly ends a
// blocked Recv and a blocked Send on the survivor at once (goal: 100 ms),
// with an error naming the peer's rank and address.
func TestKilledPeer(t *testing.T) {
	a, b := pair(t, 1)
	ctx := context.Background()
	// Prime the data stream a -> b, then fill it until Send blocks.
	if err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 1}, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	recvDone := make(chan error, 1)
	go func() {
		_, _, err := a.Recv(ctx, 1, make([]byte, 64))
		recvDone <- err
	}()
	sendDone := make(chan error, 1)
	go func() {
		chunk := make([]byte, 200<<10)
		for {
			if err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 1}, chunk); err != nil {
				sendDone <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the link fill and both calls block
	select {
	case err := <-recvDone:
		t.Fatalf("Recv returned %v before the peer died", err)
	default:
	}
	at := time.Now()
	kill(b)
	for name, done := range map[string]chan error{"Recv": recvDone, "Send": sendDone} {
		select {
		case err := <-done:
			took := time.Since(at)
			var pe *allreduce.PeerError
			if !errors.Is(err, allreduce.ErrPeerLost) || !errors.As(err, &pe) || pe.Rank != 1 || pe.Addr != b.Addr() ||
				!strings.Contains(err.Error(), b.Addr()) {
				t.Errorf("%s after the peer died = %v; want ErrPeerLost naming rank 1 (%s)", name, err, b.Addr())
			}
			// The goal is 100 ms (about 2 ms and 15 ms here when idle); the
			// bound leaves room for -race on a loaded 2-core machine.
			if took > 500*time.Millisecond {
				t.Errorf("%s returned %v after the peer died; want <= 500ms (goal 100ms)", name, took)
			}
			t.Logf("%s returned %v after the peer died: %v", name, took, err)
		case <-time.After(2 * time.Second):
			t.Fatalf("%s still blocked 2s after the peer died", name)
		}
	}
}

// TestUnreachablePeer checks that a peer that cannot be reached at all (a
// new connection to it is refused) counts as lost, rather than blocking Send
// until the context ends.
func TestUnreachablePeer(t *testing.T) {
	a, b := pair(t, 1)
	kill(b) // its address now refuses connections
	for deadline := time.Now().Add(2 * time.Second); !a.peers[1].isDead(); {
		if time.Now().After(deadline) {
			t.Fatal("a never noticed that b died")
		}
		time.Sleep(time.Millisecond)
	}
	peers := []string{a.Addr(), b.Addr()}
	if err := a.Configure(context.Background(), allreduce.Membership{Run: testRun, Gen: 2, Rank: 0, Peers: peers}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 2}, []byte("x"))
	var pe *allreduce.PeerError
	if !errors.Is(err, allreduce.ErrPeerLost) || !errors.As(err, &pe) || pe.Rank != 1 {
		t.Fatalf("Send to an unreachable peer = %v; want ErrPeerLost naming rank 1", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"default", func(*Config) {}, ""},
		{"payload", func(c *Config) { c.MaxPayloadBytes = 0 }, "MaxPayloadBytes"},
		{"queue", func(c *Config) { c.RecvQueueMessages = 0 }, "RecvQueueMessages"},
		{"window", func(c *Config) { c.StreamWindowBytes = 1024 }, "StreamWindowBytes"},
		{"conn window", func(c *Config) { c.ConnWindowBytes = c.StreamWindowBytes - 1 }, "ConnWindowBytes"},
		{"keepalive", func(c *Config) { c.KeepaliveTime = 0 }, "KeepaliveTime"},
		{"keepalive timeout", func(c *Config) { c.KeepaliveTimeout = -1 }, "KeepaliveTimeout"},
		{"write buffer", func(c *Config) { c.WriteBufferBytes = -1 }, "WriteBufferBytes"},
		{"no secret", func(c *Config) { c.Secret = nil }, "Secret"},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "Secret"},
		{"secret and insecure", func(c *Config) { c.Insecure = true }, "Insecure"},
		{"insecure", func(c *Config) { c.Secret, c.Insecure = nil, true }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v; want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestSendTooLarge(t *testing.T) {
	a, _ := pair(t, 1)
	err := a.Send(context.Background(), 1, allreduce.Header{Run: testRun, Gen: 1}, make([]byte, a.cfg.MaxPayloadBytes+1))
	if !errors.Is(err, allreduce.ErrMessageTooLarge) {
		t.Fatalf("Send(MaxPayloadBytes+1) = %v; want ErrMessageTooLarge", err)
	}
}

// freezer is a TCP proxy that can stop forwarding without closing anything:
// to the ends it looks like a peer whose machine vanished.
type freezer struct {
	ln     net.Listener
	to     string
	frozen chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, to string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, to: to, frozen: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, d)
			f.mu.Unlock()
			f.wg.Add(2)
			go f.pipe(c, d)
			go f.pipe(d, c)
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *freezer) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-f.frozen:
			// Swallow everything, answer nothing, close nothing.
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) close() {
	f.freeze()
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestSilentPeer checks that keepalive finds a peer that stops answering
// without closing its connections (a vanished machine, a partition): a Recv
// blocked on it fails after about KeepaliveTime+KeepaliveTimeout.
func TestSilentPeer(t *testing.T) {
	cfg := testConfig()
	cfg.KeepaliveTime, cfg.KeepaliveTimeout = time.Second, 500*time.Millisecond
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	// b is reached through the proxy, both ways.
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	toB := newFreezer(t, lnB.Addr().String())
	toA := newFreezer(t, a.Addr())
	cfgB := cfg
	cfgB.AdvertiseAddr = toB.ln.Addr().String()
	b, err := NewListener(lnB, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	peersA := []string{a.Addr(), b.Addr()}               // a dials b through toB
	peersB := []string{toA.ln.Addr().String(), b.Addr()} // b dials a through toA
	if err := a.Configure(ctx, allreduce.Membership{Run: testRun, Gen: 1, Rank: 0, Peers: peersA}); err != nil {
		t.Fatal(err)
	}
	if err := b.Configure(ctx, allreduce.Membership{Run: testRun, Gen: 1, Rank: 1, Peers: peersB}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, 0, allreduce.Header{Run: testRun, Gen: 1}, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 8)
	if _, n, err := a.Recv(ctx, 1, dst); err != nil || string(dst[:n]) != "hi" {
		t.Fatalf("Recv = %q, %v; want \"hi\"", dst[:n], err)
	}
	toA.freeze()
	toB.freeze()
	at := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _, err = a.Recv(rctx, 1, dst)
	took := time.Since(at)
	if !errors.Is(err, allreduce.ErrPeerLost) {
		t.Fatalf("Recv from a silent peer = %v after %v; want ErrPeerLost", err, took)
	}
	t.Logf("silent peer seen after %v: %v", took, err)
	if limit := 3 * (cfg.KeepaliveTime + cfg.KeepaliveTimeout); took > limit {
		t.Errorf("silent peer seen after %v; want <= %v", took, limit)
	}
}

// TestLocalSockets: peers on this host talk over the local Unix sockets;
// with LocalSockets off on either side, over TCP.
func TestLocalSockets(t *testing.T) {
	if !samehost.Supported() {
		t.Skip("no abstract Unix sockets on this OS: every peer uses TCP")
	}
	on, off := testConfig(), testConfig()
	off.LocalSockets = false
	for _, tc := range []struct {
		name       string
		cfg0, cfg1 Config
		want       string
	}{
		{"both on", on, on, "unix"},
		{"dialler off", off, on, "tcp"},
		{"listener off", on, off, "tcp"}, // no local socket to dial: TCP
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			tc.cfg1.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			a, b := pairWith(t, 1, tc.cfg0, tc.cfg1)
			ctx := context.Background()
			if err := a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 1}, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 16)
			if _, n, err := b.Recv(ctx, 0, buf); err != nil || string(buf[:n]) != "hello" {
				t.Fatalf("Recv = %q, %v; want hello", buf[:n], err)
			}
			if want := "over=" + tc.want; !strings.Contains(log.String(), want) {
				t.Errorf("the receiver's log does not say %s:\n%s", want, log.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWrongKeyRefused: a sender without the run's key is refused by the
// receiver's server, whose Recv gets nothing from it; the sender sees the
// receiver as lost, with a cause that names the key. With the key, the same
// message passes.
func TestWrongKeyRefused(t *testing.T) {
	wrong, none := testConfig(), testConfig()
	wrong.Secret = []byte("another run's key, long enough")
	none.Secret, none.Insecure = nil, true
	for _, tc := range []struct {
		name   string
		sender Config
		ok     bool
	}{
		{"same key", testConfig(), true},
		{"another key", wrong, false},
		{"no key", none, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pairWith(t, 1, tc.sender, testConfig())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			for i := 0; i < 50 && err == nil; i++ { // the refusal ends the stream after a few Sends at most
				err = a.Send(ctx, 1, allreduce.Header{Run: testRun, Gen: 1, Seg: uint32(i)}, []byte("gradient"))
				if tc.ok {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("Send = %v; want nil", err)
				}
				buf := make([]byte, 16)
				if _, n, err := b.Recv(ctx, 0, buf); err != nil || string(buf[:n]) != "gradient" {
					t.Fatalf("Recv = %q, %v; want gradient", buf[:n], err)
				}
				if n := b.Unauthorized(); n != 0 {
					t.Errorf("Unauthorized() = %d; want 0", n)
				}
				return
			}
			if !errors.Is(err, allreduce.ErrPeerLost) || !strings.Contains(err.Error(), "ring key") {
				t.Fatalf("Send = %v; want ErrPeerLost naming the ring key", err)
			}
			if n := b.Unauthorized(); n == 0 {
				t.Error("Unauthorized() = 0; want the refused call counted")
			}
			rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer rcancel()
			if _, n, err := b.Recv(rctx, 0, make([]byte, 16)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Recv from the refused sender = %d bytes, %v; want nothing until the deadline", n, err)
			}
		})
	}
}
