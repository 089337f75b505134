package allreducetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// This file holds the suite's tests of allreduce.Ring over the transport.

var wires = []allreduce.Wire{allreduce.WireFloat32, allreduce.WireBFloat16, allreduce.WireFloat16}

func testSizes(t *testing.T, newCluster NewCluster) {
	for n := 1; n <= 8; n++ {
		for _, seg := range []int{64, 256 << 10} {
			t.Run(fmt.Sprintf("n=%d/seg=%d", n, seg), func(t *testing.T) {
				for _, w := range wires {
					cfg := allreduce.DefaultConfig()
					cfg.SegmentBytes, cfg.Wire = seg, w
					c := NewRings(t, newCluster, n, cfg)
					for step, size := range []int{0, 1, n - 1, n + 1, 2*n + 3, 97, 1000} {
						in := inputs(uint64(step), n, size)
						out := clone(in)
						noErrors(t, fmt.Sprintf("AllReduce(len %d, %v)", size, w), c.AllReduce(uint64(step), out))
						checkSum(t, cfg, in, out)
					}
				}
			})
		}
	}
}

func testLarge(t *testing.T, newCluster NewCluster) {
	for _, tc := range []struct {
		n    int
		size int
		wire allreduce.Wire
	}{
		{2, 1_000_003, allreduce.WireFloat32},
		{3, 1_000_003, allreduce.WireFloat32},
		{5, 262_139, allreduce.WireFloat32},
		{4, 262_139, allreduce.WireBFloat16},
		{3, 262_139, allreduce.WireFloat16},
	} {
		t.Run(fmt.Sprintf("n=%d/len=%d/%v", tc.n, tc.size, tc.wire), func(t *testing.T) {
			cfg := allreduce.DefaultConfig()
			cfg.Wire = tc.wire
			cfg.SegmentBytes = 64 << 10
			c := NewRings(t, newCluster, tc.n, cfg)
			in := inputs(7, tc.n, tc.size)
			out := clone(in)
			noErrors(t, "AllReduce", c.AllReduce(1, out))
			checkSum(t, cfg, in, out)
		})
	}
}

func testDeterminism(t *testing.T, newCluster NewCluster) {
	for _, w := range wires {
		t.Run(w.String(), func(t *testing.T) {
			n, size := 4, 10_007
			cfg := allreduce.DefaultConfig()
			cfg.Wire, cfg.SegmentBytes = w, 1024
			c := NewRings(t, newCluster, n, cfg)
			in := inputs(3, n, size)
			var first []float32
			for rep := range 3 {
				out := clone(in)
				noErrors(t, "AllReduce", c.AllReduce(uint64(rep), out))
				if rep == 0 {
					first = out[0]
					continue
				}
				for j := range first {
					if math.Float32bits(out[0][j]) != math.Float32bits(first[j]) {
						t.Fatalf("repeat %d: buf[%d] = %v; first run gave %v (want the same bits)", rep, j, out[0][j], first[j])
					}
				}
			}
			// A fresh cluster gives the same bits too.
			c2 := NewRings(t, newCluster, n, cfg)
			out := clone(in)
			noErrors(t, "AllReduce on a new cluster", c2.AllReduce(9, out))
			for j := range first {
				if math.Float32bits(out[0][j]) != math.Float32bits(first[j]) {
					t.Fatalf("new cluster: buf[%d] = %v; first run gave %v (want the same bits)", j, out[0][j], first[j])
				}
			}
		})
	}
}

// splits cuts size into random bucket lengths (some zero), seeded.
func splits(seed uint64, size int) []int {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []int
	for size > 0 {
		k := min(size, rng.IntN(size/3+2))
		out = append(out, k)
		size -= k
	}
	return append(out, 0)
}

func testBuckets(t *testing.T, newCluster NewCluster) {
	for _, n := range []int{2, 3, 5} {
		for _, w := range wires {
			t.Run(fmt.Sprintf("n=%d/%v", n, w), func(t *testing.T) {
				size := 20_011
				cfg := allreduce.DefaultConfig()
				cfg.Wire, cfg.SegmentBytes = w, 2048
				c := NewRings(t, newCluster, n, cfg)
				in := inputs(11, n, size)
				whole := clone(in)
				noErrors(t, "AllReduce", c.AllReduce(1, whole))
				for seed := range uint64(3) {
					parts := splits(seed, size)
					out := clone(in)
					errs := c.Each(func(rank int, r *allreduce.Ring) error {
						op := r.Start(context.Background(), allreduce.Tag{Gen: c.Gen, Step: 2 + seed}, size)
						off := 0
						for _, k := range parts {
							op.Submit(out[rank][off : off+k])
							off += k
						}
						return op.Wait()
					})
					noErrors(t, fmt.Sprintf("bucketed op (%d buckets)", len(parts)), errs)
					for r := range n {
						for j := range whole[0] {
							if math.Float32bits(out[r][j]) != math.Float32bits(whole[0][j]) {
								t.Fatalf("buckets %v: rank %d buf[%d] = %v; AllReduce gave %v (want the same bits)", parts, r, j, out[r][j], whole[0][j])
							}
						}
					}
				}
			})
		}
	}
}

// since returns the time elapsed since the instant in t (0 if unset).
func since(t *atomic.Int64) time.Duration {
	at := t.Load()
	if at == 0 {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - at)
}

// checkBlamed checks that err names the peer blamed and wraps cause.
func checkBlamed(tb testing.TB, rank int, err error, blamed int, cause error) {
	tb.Helper()
	var pe *allreduce.PeerError
	if !errors.As(err, &pe) || pe.Rank != blamed || !errors.Is(err, cause) {
		tb.Fatalf("rank %d: error %v; want a *PeerError naming rank %d wrapping %v", rank, err, blamed, cause)
	}
	tb.Logf("rank %d: %v", rank, err)
}

func testPeerDies(t *testing.T, newCluster NewCluster) {
	for _, n := range []int{2, 3, 5} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			cfg := allreduce.DefaultConfig()
			cfg.SegmentBytes = 4096
			c := NewRings(t, newCluster, n, cfg)
			dead := n / 2
			size := 200_003
			bufs := inputs(5, n, size)
			var closedAt atomic.Int64 // unix nanoseconds
			took := make([]time.Duration, n)
			errs := c.Each(func(rank int, r *allreduce.Ring) error {
				op := r.Start(context.Background(), allreduce.Tag{Gen: c.Gen, Step: 1}, size)
				if rank != dead {
					op.Submit(bufs[rank][:size/2])
					op.Submit(bufs[rank][size/2:])
					err := op.Wait()
					took[rank] = since(&closedAt)
					return err
				}
				op.Submit(bufs[rank][:size/2]) // then the rank dies, mid-call
				closedAt.Store(time.Now().UnixNano())
				c.T[c.Members[rank]].Close()
				op.Wait()
				return nil
			})
			var worst time.Duration
			for rank, err := range errs {
				if rank == dead {
					continue
				}
				checkBlamed(t, rank, err, dead, allreduce.ErrPeerLost)
				if took[rank] > FailDeadline {
					t.Errorf("rank %d noticed the loss after %v; want <= %v", rank, took[rank], FailDeadline)
				}
				worst = max(worst, took[rank])
			}
			t.Logf("slowest rank noticed the loss of rank %d after %v", dead, worst)
			// The survivors form the next generation and work.
			var members []int
			for rank, idx := range c.Members {
				if rank != dead {
					members = append(members, idx)
				}
			}
			c.Configure(t, c.Gen+1, members)
			in := inputs(6, len(members), 1001)
			out := clone(in)
			noErrors(t, "AllReduce after the loss", c.AllReduce(2, out))
			checkSum(t, cfg, in, out)
		})
	}
}

func testCancel(t *testing.T, newCluster NewCluster) {
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			c := NewRings(t, newCluster, n, allreduce.DefaultConfig())
			quitter := n - 1
			size := 100_000
			bufs := inputs(8, n, size)
			var cancelledAt atomic.Int64
			took := make([]time.Duration, n)
			errs := c.Each(func(rank int, r *allreduce.Ring) error {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				op := r.Start(ctx, allreduce.Tag{Gen: c.Gen, Step: 1}, size)
				op.Submit(bufs[rank][:10])
				if rank == quitter { // the rest never comes
					cancelledAt.Store(time.Now().UnixNano())
					cancel()
				} else {
					op.Submit(bufs[rank][10:])
				}
				err := op.Wait()
				took[rank] = since(&cancelledAt)
				return err
			})
			var worst time.Duration
			for rank, err := range errs {
				if rank == quitter {
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("rank %d (cancelled): Wait = %v; want context.Canceled", rank, err)
					}
				} else {
					checkBlamed(t, rank, err, quitter, allreduce.ErrPeerAborted)
				}
				if took[rank] > FailDeadline {
					t.Errorf("rank %d returned %v after the cancel; want <= %v", rank, took[rank], FailDeadline)
				}
				worst = max(worst, took[rank])
			}
			t.Logf("slowest rank returned %v after rank %d cancelled", worst, quitter)
			// The generation is spent; the next one works.
			err := c.Rings[0].AllReduce(context.Background(), allreduce.Tag{Gen: c.Gen, Step: 2}, bufs[0])
			if !errors.Is(err, allreduce.ErrAborted) {
				t.Fatalf("AllReduce in the aborted generation = %v; want ErrAborted", err)
			}
			c.Configure(t, c.Gen+1, c.Members)
			in := inputs(9, n, 999)
			out := clone(in)
			noErrors(t, "AllReduce in the next generation", c.AllReduce(2, out))
			checkSum(t, allreduce.DefaultConfig(), in, out)
		})
	}
}

// forge sends a data message that must never be summed.
func forge(tb testing.TB, tr allreduce.Transport, to int, h allreduce.Header, elems int) {
	tb.Helper()
	p := make([]byte, 4*elems)
	for i := 0; i < len(p); i += 4 {
		copy(p[i:], []byte{0, 0, 0x80, 0x7f}) // +Inf: poisons any sum
	}
	if err := tr.Send(context.Background(), to, h, p); err != nil {
		tb.Fatalf("Send(forged %v) = %v; want nil", h, err)
	}
}

func testStaleGeneration(t *testing.T, newCluster NewCluster) {
	n, size := 3, 30
	cfg := allreduce.DefaultConfig()
	c := NewRings(t, newCluster, n, cfg)
	// Leftovers of generation 1 (an aborted all-reduce) queued at rank 1,
	// and a message of another run.
	old := allreduce.Header{Kind: allreduce.KindData, Run: runID, Gen: 1, Step: 1, From: 0}
	forge(t, c.T[0], 1, old, size/n)
	abort := old
	abort.Kind = allreduce.KindAbort
	if err := c.T[0].Send(context.Background(), 1, abort, []byte{0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("Send(abort) = %v", err)
	}
	c.Configure(t, 2, c.Members)
	// Stale ones sent after the new generation began.
	forge(t, c.T[0], 1, old, size/n)
	other := old
	other.Run, other.Gen = runID+1, 2
	forge(t, c.T[0], 1, other, size/n)

	err := c.Rings[0].AllReduce(context.Background(), allreduce.Tag{Gen: 1, Step: 1}, make([]float32, size))
	if !errors.Is(err, allreduce.ErrStaleGeneration) {
		t.Fatalf("AllReduce tagged with the old generation = %v; want ErrStaleGeneration", err)
	}
	in := inputs(4, n, size)
	out := clone(in)
	noErrors(t, "AllReduce", c.AllReduce(1, out))
	checkSum(t, cfg, in, out)
}

func testFutureGeneration(t *testing.T, newCluster NewCluster) {
	n, size := 3, 3000
	cfg := allreduce.DefaultConfig()
	cfg.SegmentBytes = 256
	c := NewRings(t, newCluster, n, cfg)
	peers := allreduce.Addrs(c.T)
	// Rank 0 hears of generation 2 first and starts its all-reduce there.
	if err := c.Rings[0].Configure(context.Background(), allreduce.Membership{Run: runID, Gen: 2, Rank: 0, Peers: peers}); err != nil {
		t.Fatal(err)
	}
	in := inputs(12, n, size)
	out := clone(in)
	ahead := make(chan error, 1)
	go func() {
		ahead <- c.Rings[0].AllReduce(context.Background(), allreduce.Tag{Gen: 2, Step: 1}, out[0])
	}()
	// The others are still in generation 1: their operation fails, naming
	// rank 0 (rank 1 hears rank 0's generation-2 message).
	errs := c.each([]int{1, 2}, func(rank, idx int) error {
		return c.Rings[idx].AllReduce(context.Background(), allreduce.Tag{Gen: 1, Step: 1}, clone(in)[idx])
	})
	for i, err := range errs {
		checkBlamed(t, i+1, err, 0, allreduce.ErrFutureGeneration)
	}
	// Once they reach generation 2, rank 0's held messages count and every
	// rank completes.
	errs = c.each([]int{1, 2}, func(rank, idx int) error {
		if err := c.Rings[idx].Configure(context.Background(), allreduce.Membership{Run: runID, Gen: 2, Rank: idx, Peers: peers}); err != nil {
			return err
		}
		return c.Rings[idx].AllReduce(context.Background(), allreduce.Tag{Gen: 2, Step: 1}, out[idx])
	})
	noErrors(t, "generation 2", append(errs, <-ahead))
	checkSum(t, cfg, in, out)
}

func testWrongStep(t *testing.T, newCluster NewCluster) {
	n, size := 3, 30
	c := NewRings(t, newCluster, n, allreduce.DefaultConfig())
	// A message of the current generation but another step, where rank 1
	// expects its first segment: refused, never summed, and the ring fails.
	forge(t, c.T[0], 1, allreduce.Header{Kind: allreduce.KindData, Run: runID, Gen: 1, Step: 7, From: 0}, size/n)
	bufs := inputs(1, n, size)
	errs := c.AllReduce(1, bufs)
	for rank, err := range errs {
		checkBlamed(t, rank, err, 0, allreduce.ErrProtocol)
	}
}
