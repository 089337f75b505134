package tcptransport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// fakeAddr returns the address of a listener that never accepts: a peer
// address this endpoint can dial (the kernel completes the connection) that
// never answers the handshake.
func fakeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// fakeSender is a hand-made sender to tr claiming address addr: its control
// and data connections have passed the handshake; the test writes raw
// frames.
type fakeSender struct{ ctrl, data *net.TCPConn }

func dialFake(tb testing.TB, tr *Transport, addr string) *fakeSender {
	tb.Helper()
	var f fakeSender
	for _, role := range []byte{roleControl, roleData} {
		c, err := net.Dial("tcp", tr.Addr())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := clientHandshake(c, testSecret, hello{role: role, session: 42, addr: addr}, tr.Addr()); err != nil {
			tb.Fatalf("handshake: %v", err)
		}
		c.SetDeadline(time.Time{})
		if role == roleData {
			f.data = c.(*net.TCPConn)
		} else {
			f.ctrl = c.(*net.TCPConn)
		}
	}
	return &f
}

func frame(h frameHeader, payload []byte) []byte {
	var b [headerLen]byte
	h.Len = uint32(len(payload))
	h.put(&b)
	return append(b[:], payload...)
}

// receiverOf makes tr rank 1 of a generation whose rank 0 is the fake
// address addr.
func receiverOf(tb testing.TB, tr *Transport, addr string) {
	tb.Helper()
	if err := tr.Configure(context.Background(), allreduce.Membership{Run: 1, Gen: 1, Rank: 1, Peers: []string{addr, tr.Addr()}}); err != nil {
		tb.Fatal(err)
	}
}

// recvUntilErr receives from rank 0 until an error, returning it, the
// payloads received before, and how long after start it came.
func recvUntilErr(tr *Transport, start time.Time) (error, []string, time.Duration) {
	var got []string
	dst := make([]byte, 1<<10)
	for {
		_, k, err := tr.Recv(context.Background(), 0, dst)
		if err != nil {
			return err, got, time.Since(start)
		}
		got = append(got, string(dst[:k]))
	}
}

func checkLost(t *testing.T, err error, rank int, want string) {
	t.Helper()
	var pe *allreduce.PeerError
	if !errors.Is(err, allreduce.ErrPeerLost) || !errors.As(err, &pe) || pe.Rank != rank || !strings.Contains(err.Error(), want) {
		t.Fatalf("Recv = %v; want ErrPeerLost naming rank %d, saying %q", err, rank, want)
	}
}

// TestKilledConnection: a sender whose connections are reset (as when its
// process is killed) is lost, with a PeerError naming its rank, after the
// messages that arrived before.
func TestKilledConnection(t *testing.T) {
	tr := newTransport(t, testConfig())
	addr := fakeAddr(t)
	receiverOf(t, tr, addr)
	f := dialFake(t, tr, addr)
	h := frameHeader{Kind: kindData, Run: 1, Gen: 1}
	f.data.Write(frame(h, []byte("before")))
	half := frame(h, []byte("the second message"))
	f.data.Write(half[:headerLen+3])
	time.Sleep(10 * time.Millisecond) // let the bytes arrive before the reset
	start := time.Now()
	for _, c := range []*net.TCPConn{f.data, f.ctrl} {
		c.SetLinger(0) // close with a reset, as the kernel does for a killed process with unread data
		c.Close()
	}
	err, got, took := recvUntilErr(tr, start)
	checkLost(t, err, 0, "")
	if len(got) > 1 || len(got) == 1 && got[0] != "before" {
		t.Errorf("received %q before the loss; want at most [\"before\"]", got)
	}
	if took > allreduceFailDeadline {
		t.Errorf("the loss was seen after %v; want <= %v", took, allreduceFailDeadline)
	}
	t.Logf("received %q, then the loss after %v", got, took)
}

// allreduceFailDeadline is the conformance suite's bound on noticing a
// failure (the design goal is 100 ms).
const allreduceFailDeadline = 2 * time.Second

// TestBadFrame: a header announcing more than MaxPayloadBytes drops the
// sender as lost, naming the field.
func TestBadFrame(t *testing.T) {
	tr := newTransport(t, testConfig())
	addr := fakeAddr(t)
	receiverOf(t, tr, addr)
	f := dialFake(t, tr, addr)
	var b [headerLen]byte
	frameHeader{Kind: kindData, Run: 1, Gen: 1, Len: uint32(testConfig().MaxPayloadBytes + 1)}.put(&b)
	f.data.Write(b[:])
	err, _, _ := recvUntilErr(tr, time.Now())
	checkLost(t, err, 0, "len =")
	if !errors.Is(err, ErrBadFrame) {
		t.Errorf("Recv = %v; want it to wrap ErrBadFrame", err)
	}
}

// TestSilentPeer: a peer that stops talking (hung, or cut off by the
// network) is lost after PeerTimeout, on both the receiving and the
// sending side.
func TestSilentPeer(t *testing.T) {
	cfg := testConfig()
	cfg.HeartbeatInterval, cfg.PeerTimeout = 20*time.Millisecond, 200*time.Millisecond

	t.Run("sender", func(t *testing.T) {
		tr := newTransport(t, cfg)
		addr := fakeAddr(t)
		receiverOf(t, tr, addr)
		dialFake(t, tr, addr) // handshakes, then never a heartbeat
		start := time.Now()
		err, _, took := recvUntilErr(tr, start)
		checkLost(t, err, 0, "silent")
		if took < cfg.PeerTimeout/2 || took > cfg.PeerTimeout+allreduceFailDeadline {
			t.Errorf("the silent sender was lost after %v; want about PeerTimeout (%v)", took, cfg.PeerTimeout)
		}
	})
	t.Run("receiver", func(t *testing.T) {
		// A fake endpoint that passes the handshake, then reads nothing.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 2)
		go func() {
			for range 2 {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				serverHandshake(c, testSecret, ln.Addr().String())
				accepted <- c
			}
		}()
		tr := newTransport(t, cfg)
		ctx := context.Background()
		if err := tr.Configure(ctx, allreduce.Membership{Run: 1, Gen: 1, Rank: 0, Peers: []string{tr.Addr(), ln.Addr().String()}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			if err = tr.Send(ctx, 1, allreduce.Header{Run: 1, Gen: 1}, []byte("x")); err != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		checkLost(t, err, 1, "silent")
		t.Logf("the silent receiver was lost after %v", time.Since(start))
		for range 2 {
			(<-accepted).Close()
		}
	})
}

// TestCancelMidMessage: a Send cancelled while its payload is half
// written returns at once, yet the receiver gets the whole message, then
// the next: the stream stays whole, and the caller's buffer is free.
func TestCancelMidMessage(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPayloadBytes = 32 << 20 // several times the socket buffers
	ts := []*Transport{newTransport(t, cfg), newTransport(t, cfg)}
	peers := []string{ts[0].Addr(), ts[1].Addr()}
	for rank, tr := range ts {
		if err := tr.Configure(context.Background(), allreduce.Membership{Run: 1, Gen: 1, Rank: rank, Peers: peers}); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), cfg.MaxPayloadBytes/16)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ts[0].Send(ctx, 1, allreduce.Header{Run: 1, Gen: 1, Seg: 1}, big)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send of %d bytes to a peer that does not read = %v; want DeadlineExceeded", len(big), err)
	}
	if took := time.Since(start); took > 50*time.Millisecond+allreduceFailDeadline {
		t.Errorf("Send returned %v after it started; want about 50ms", took)
	}
	want := bytes.Clone(big)
	clear(big) // the caller owns it again
	next := make(chan error, 1)
	go func() {
		next <- ts[0].Send(context.Background(), 1, allreduce.Header{Run: 1, Gen: 1, Seg: 2}, []byte("next"))
	}()
	dst := make([]byte, cfg.MaxPayloadBytes)
	h, k, err := ts[1].Recv(context.Background(), 0, dst)
	if err != nil || h.Seg != 1 || !bytes.Equal(dst[:k], want) {
		t.Fatalf("Recv = seg %d, %d bytes (equal %v), %v; want seg 1, the %d bytes sent", h.Seg, k, bytes.Equal(dst[:k], want), err, len(want))
	}
	h, k, err = ts[1].Recv(context.Background(), 0, dst)
	if err != nil || h.Seg != 2 || string(dst[:k]) != "next" {
		t.Fatalf("Recv = seg %d %q, %v; want seg 2 \"next\"", h.Seg, dst[:k], err)
	}
	if err := <-next; err != nil {
		t.Fatalf("the next Send = %v; want nil", err)
	}
}

// TestNoAllocs: a Send and a Recv allocate nothing in steady state.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cfg := testConfig()
	// AllocsPerRun counts the whole process: keep the heartbeats out.
	cfg.HeartbeatInterval, cfg.PeerTimeout = time.Minute, 2*time.Minute
	ts := []*Transport{newTransport(t, cfg), newTransport(t, cfg)}
	peers := []string{ts[0].Addr(), ts[1].Addr()}
	ctx := context.Background()
	for rank, tr := range ts {
		if err := tr.Configure(ctx, allreduce.Membership{Run: 1, Gen: 1, Rank: rank, Peers: peers}); err != nil {
			t.Fatal(err)
		}
	}
	payload := make([]byte, 64<<10)
	dst := make([]byte, len(payload))
	use := func(allreduce.Header, []byte) error { return nil }
	round := func() {
		h := allreduce.Header{Run: 1, Gen: 1}
		if err := ts[0].Send(ctx, 1, h, payload); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ts[1].Recv(ctx, 0, dst); err != nil {
			t.Fatal(err)
		}
		if err := ts[0].Send(ctx, 1, h, payload); err != nil {
			t.Fatal(err)
		}
		if err := ts[1].RecvLend(ctx, 0, use); err != nil {
			t.Fatal(err)
		}
	}
	round() // connect, size the lend buffer
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Errorf("Send+Recv+Send+RecvLend allocates %v times; want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default with a secret", func(c *Config) {}, ""},
		{"insecure", func(c *Config) { c.Secret, c.Insecure = nil, true }, ""},
		{"no secret", func(c *Config) { c.Secret = nil }, "Secret"},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "Secret"},
		{"secret and insecure", func(c *Config) { c.Insecure = true }, "Insecure"},
		{"zero payload", func(c *Config) { c.MaxPayloadBytes = 0 }, "MaxPayloadBytes"},
		{"negative buffer", func(c *Config) { c.SocketBufferBytes = -1 }, "SocketBufferBytes"},
		{"zero dial timeout", func(c *Config) { c.DialTimeout = 0 }, "DialTimeout"},
		{"zero handshake timeout", func(c *Config) { c.HandshakeTimeout = 0 }, "HandshakeTimeout"},
		{"zero heartbeat", func(c *Config) { c.HeartbeatInterval = 0 }, "HeartbeatInterval"},
		{"timeout below two heartbeats", func(c *Config) { c.PeerTimeout = c.HeartbeatInterval }, "PeerTimeout"},
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
			if err == nil || !strings.Contains(err.Error(), "Config."+tc.field) {
				t.Fatalf("Validate() = %v; want an error naming Config.%s", err, tc.field)
			}
		})
	}
	if err := DefaultConfig().Validate(); err == nil {
		t.Errorf("DefaultConfig().Validate() = nil; want an error (no Secret: not secure by accident)")
	}
}
