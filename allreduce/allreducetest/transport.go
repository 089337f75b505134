package allreducetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// RunTransport checks the raw Transport contract (see allreduce.Transport),
// without a Ring. Run calls it.
func RunTransport(t *testing.T, newCluster NewCluster) {
	t.Run("NotConfigured", func(t *testing.T) {
		ts := newCluster(t, 2)
		if err := ts[0].Send(context.Background(), 1, allreduce.Header{}, nil); !errors.Is(err, allreduce.ErrNotConfigured) {
			t.Fatalf("Send before Configure = %v; want ErrNotConfigured", err)
		}
	})
	t.Run("Order", testOrder(newCluster))
	t.Run("Fencing", testFencing(newCluster))
	t.Run("TooLarge", func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		h := data(1, 0)
		if err := ts[0].Send(context.Background(), 1, h, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		_, _, err := ts[1].Recv(context.Background(), 0, make([]byte, 10))
		if !errors.Is(err, allreduce.ErrMessageTooLarge) {
			t.Fatalf("Recv of 100 bytes into 10 = %v; want ErrMessageTooLarge", err)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		ctx, cancel := context.WithCancel(context.Background())
		took := blockedUntil(t, func() error {
			_, _, err := ts[1].Recv(ctx, 0, make([]byte, 8))
			return err
		}, cancel)
		if !errors.Is(took.err, context.Canceled) {
			t.Fatalf("Recv after cancel = %v; want context.Canceled", took.err)
		}
		t.Logf("Recv returned %v after cancel", took.d)
	})
	t.Run("CloseUnblocks", func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		took := blockedUntil(t, func() error {
			_, _, err := ts[1].Recv(context.Background(), 0, make([]byte, 8))
			return err
		}, func() { ts[1].Close() })
		if !errors.Is(took.err, allreduce.ErrClosed) {
			t.Fatalf("Recv blocked during Close = %v; want ErrClosed", took.err)
		}
		if err := ts[1].Send(context.Background(), 0, data(1, 0), nil); !errors.Is(err, allreduce.ErrClosed) {
			t.Fatalf("Send after Close = %v; want ErrClosed", err)
		}
		if err := ts[1].Close(); err != nil {
			t.Fatalf("second Close = %v; want nil", err)
		}
		t.Logf("Recv returned %v after Close", took.d)
	})
	t.Run("PeerLost", func(t *testing.T) {
		ts := configure(t, newCluster(t, 3), 1)
		took := blockedUntil(t, func() error {
			_, _, err := ts[1].Recv(context.Background(), 0, make([]byte, 8))
			return err
		}, func() { ts[0].Close() })
		var pe *allreduce.PeerError
		if !errors.Is(took.err, allreduce.ErrPeerLost) || !errors.As(took.err, &pe) || pe.Rank != 0 {
			t.Fatalf("Recv from a closed peer = %v; want ErrPeerLost naming rank 0", took.err)
		}
		t.Logf("Recv returned %v after the peer closed", took.d)
		// Send to the lost peer fails too (after at most what flow control
		// buffers).
		deadline := time.Now().Add(FailDeadline)
		var err error
		for time.Now().Before(deadline) {
			if err = ts[2].Send(context.Background(), 0, data(1, 0), make([]byte, 1024)); err != nil {
				break
			}
		}
		if !errors.Is(err, allreduce.ErrPeerLost) || !errors.As(err, &pe) || pe.Rank != 0 {
			t.Fatalf("Send to a closed peer = %v; want ErrPeerLost naming rank 0", err)
		}
		// The transport still works with the others in the next generation.
		configureMembers(t, ts, 2, []int{1, 2})
		if err := ts[1].Send(context.Background(), 1, data(2, 0), []byte("hi")); err != nil {
			t.Fatalf("Send in the next generation = %v; want nil", err)
		}
		dst := make([]byte, 8)
		if _, k, err := ts[2].Recv(context.Background(), 0, dst); err != nil || string(dst[:k]) != "hi" {
			t.Fatalf("Recv in the next generation = %q, %v; want \"hi\", nil", dst[:k], err)
		}
	})
	t.Run("AbortOvertakes", testAbortOvertakes(newCluster))
	t.Run("Lend", testLend(newCluster))
}

// testLend checks allreduce.Lender, for transports that implement it:
// RecvLend and Recv share one ordered stream, and use's error comes back.
func testLend(newCluster NewCluster) func(*testing.T) {
	return func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		lender, ok := ts[1].(allreduce.Lender)
		if !ok {
			t.Skip("the transport does not implement allreduce.Lender (optional)")
		}
		ctx := context.Background()
		const count = 40
		go func() {
			for i := range count {
				h := data(1, 0)
				h.Seg = uint32(i)
				if err := ts[0].Send(ctx, 1, h, bytes.Repeat([]byte{byte(i)}, 100+i)); err != nil {
					return
				}
			}
		}()
		dst := make([]byte, 256)
		errUse := errors.New("use failed")
		for i := range count {
			want := bytes.Repeat([]byte{byte(i)}, 100+i)
			if i%2 == 0 {
				h, k, err := ts[1].Recv(ctx, 0, dst)
				if err != nil || h.Seg != uint32(i) || !bytes.Equal(dst[:k], want) {
					t.Fatalf("Recv #%d = %v, %d bytes, %v; want seg %d, %d bytes", i, h, k, err, i, len(want))
				}
				continue
			}
			err := lender.RecvLend(ctx, 0, func(h allreduce.Header, p []byte) error {
				if h.Seg != uint32(i) || !bytes.Equal(p, want) {
					t.Errorf("RecvLend #%d lent %v, %d bytes; want seg %d, %d bytes", i, h, len(p), i, len(want))
				}
				return errUse
			})
			if err != errUse {
				t.Fatalf("RecvLend #%d = %v; want use's error", i, err)
			}
		}
	}
}

// data returns the header of a data message of generation gen from rank.
func data(gen uint64, from int) allreduce.Header {
	return allreduce.Header{Kind: allreduce.KindData, Run: runID, Gen: gen, From: uint32(from)}
}

// configure makes ts ranks 0..n-1 of generation gen.
func configure(tb testing.TB, ts []allreduce.Transport, gen uint64) []allreduce.Transport {
	tb.Helper()
	all := make([]int, len(ts))
	for i := range all {
		all[i] = i
	}
	configureMembers(tb, ts, gen, all)
	return ts
}

func configureMembers(tb testing.TB, ts []allreduce.Transport, gen uint64, members []int) {
	tb.Helper()
	peers := make([]string, len(members))
	for i, m := range members {
		peers[i] = ts[m].Addr()
	}
	for rank, m := range members {
		if err := ts[m].Configure(context.Background(), allreduce.Membership{Run: runID, Gen: gen, Rank: rank, Peers: peers}); err != nil {
			tb.Fatalf("Configure(gen %d, rank %d) = %v; want nil", gen, rank, err)
		}
	}
}

type blocked struct {
	err error
	d   time.Duration
}

// blockedUntil starts call, checks it is still blocked a moment later, runs
// release and returns call's error and how long after release it returned.
func blockedUntil(tb testing.TB, call func() error, release func()) blocked {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		tb.Fatalf("call returned %v before it was released; want it blocked", err)
	case <-time.After(20 * time.Millisecond):
	}
	at := time.Now()
	release()
	select {
	case err := <-done:
		return blocked{err, time.Since(at)}
	case <-time.After(FailDeadline):
		tb.Fatalf("call still blocked %v after release", FailDeadline)
	}
	return blocked{}
}

func testOrder(newCluster NewCluster) func(*testing.T) {
	return func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		const count = 300
		payload := func(i int) []byte {
			p := make([]byte, (i*37)%5000)
			for j := range p {
				p[j] = byte(i + j)
			}
			return p
		}
		sent := make(chan error, 1)
		go func() {
			buf := make([]byte, 5000)
			for i := range count {
				p := payload(i)
				b := buf[:len(p)]
				copy(b, p)
				h := data(1, 0)
				h.Step, h.Seg = uint64(i/10), uint32(i)
				if err := ts[0].Send(context.Background(), 1, h, b); err != nil {
					sent <- err
					return
				}
				for j := range b {
					b[j] = 0xee // the transport must not see this
				}
			}
			sent <- nil
		}()
		dst := make([]byte, 5000)
		for i := range count {
			h, k, err := ts[1].Recv(context.Background(), 0, dst)
			want := data(1, 0)
			want.Step, want.Seg = uint64(i/10), uint32(i)
			if err != nil || h != want {
				t.Fatalf("Recv #%d = %v, %v; want %v, nil", i, h, err, want)
			}
			if p := payload(i); !bytes.Equal(dst[:k], p) {
				t.Fatalf("Recv #%d payload (%d bytes) differs from the %d bytes sent", i, k, len(p))
			}
		}
		if err := <-sent; err != nil {
			t.Fatalf("Send = %v; want nil", err)
		}
	}
}

func testFencing(newCluster NewCluster) func(*testing.T) {
	return func(t *testing.T) {
		ctx := context.Background()
		ts := configure(t, newCluster(t, 2), 2)
		send := func(run, gen uint64, tag string) {
			t.Helper()
			h := data(gen, 0)
			h.Run = run
			if err := ts[0].Send(ctx, 1, h, []byte(tag)); err != nil {
				t.Fatalf("Send(%s) = %v; want nil", tag, err)
			}
		}
		send(runID, 1, "stale")
		send(runID+1, 2, "other run")
		send(runID, 2, "current")
		send(runID, 3, "future")
		dst := make([]byte, 64)
		recv := func() (allreduce.Header, string, error) {
			h, k, err := ts[1].Recv(ctx, 0, dst)
			return h, string(dst[:k]), err
		}
		if h, p, err := recv(); err != nil || p != "current" || h.Gen != 2 {
			t.Fatalf("Recv = %v %q, %v; want gen 2 \"current\", nil (stale and other-run messages dropped)", h, p, err)
		}
		for range 2 { // held, not consumed
			_, _, err := recv()
			var pe *allreduce.PeerError
			if !errors.Is(err, allreduce.ErrFutureGeneration) || !errors.As(err, &pe) || pe.Rank != 0 {
				t.Fatalf("Recv with a newer generation queued = %v; want ErrFutureGeneration naming rank 0", err)
			}
		}
		if err := ts[1].Configure(ctx, allreduce.Membership{Run: runID, Gen: 2, Rank: 1, Peers: allreduce.Addrs(ts)}); !errors.Is(err, allreduce.ErrStaleGeneration) {
			t.Fatalf("Configure(gen 2) again = %v; want ErrStaleGeneration", err)
		}
		configure(t, ts, 3)
		if h, p, err := recv(); err != nil || p != "future" || h.Gen != 3 {
			t.Fatalf("Recv after Configure(gen 3) = %v %q, %v; want gen 3 \"future\", nil", h, p, err)
		}
	}
}

func testAbortOvertakes(newCluster NewCluster) func(*testing.T) {
	return func(t *testing.T) {
		ts := configure(t, newCluster(t, 2), 1)
		// Fill the link until flow control blocks Send (bounded, in case the
		// transport buffers a lot).
		chunk := make([]byte, 64<<10)
		blockedSend := false
		for sent := 0; sent < 256<<20; sent += len(chunk) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			err := ts[0].Send(ctx, 1, data(1, 0), chunk)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				blockedSend = true
				break
			}
			if err != nil {
				t.Fatalf("Send = %v; want nil or blocked", err)
			}
		}
		t.Logf("flow control blocked Send: %v", blockedSend)
		h := data(1, 0)
		h.Kind = allreduce.KindAbort
		ctx, cancel := context.WithTimeout(context.Background(), FailDeadline)
		defer cancel()
		if err := ts[0].Send(ctx, 1, h, []byte("why")); err != nil {
			t.Fatalf("Send(abort) on a full link = %v; want nil (aborts must not wait for data flow control)", err)
		}
		// The abort reaches the receiver, before or among the queued data.
		dst := make([]byte, len(chunk))
		for i := 0; ; i++ {
			got, k, err := ts[1].Recv(ctx, 0, dst)
			if err != nil {
				t.Fatalf("Recv #%d = %v; want data or the abort", i, err)
			}
			if got.Kind == allreduce.KindAbort {
				if string(dst[:k]) != "why" {
					t.Fatalf("abort payload = %q; want \"why\"", dst[:k])
				}
				t.Logf("the abort came after %d data messages", i)
				return
			}
		}
	}
}
