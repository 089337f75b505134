package tcptransport

import (
	"context"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// TestRingNoAllocs: a bucketed all-reduce of allreduce.Ring over this
// transport allocates nothing in steady state, on any rank (the Ring's
// operation contexts hand out AfterFunc registrations without allocating).
func TestRingNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n, size = 3, 200_000
	cfg := testConfig()
	cfg.HeartbeatInterval, cfg.PeerTimeout = time.Minute, 2*time.Minute // AllocsPerRun counts the whole process
	ts := make([]*Transport, n)
	peers := make([]string, n)
	for i := range ts {
		ts[i] = newTransport(t, cfg)
		peers[i] = ts[i].Addr()
	}
	rc := allreduce.DefaultConfig()
	rc.SegmentBytes = 64 << 10
	rings := make([]*allreduce.Ring, n)
	bufs := make([][]float32, n)
	for i := range rings {
		rings[i] = allreduce.New(ts[i], rc)
		defer rings[i].Close()
		if err := rings[i].Configure(context.Background(), allreduce.Membership{Run: 1, Gen: 1, Rank: i, Peers: peers}); err != nil {
			t.Fatal(err)
		}
		bufs[i] = make([]float32, size)
	}
	// Ranks 1..n-1 follow rank 0 from goroutines started once.
	start := make([]chan uint64, n)
	done := make(chan error, n)
	for i := 1; i < n; i++ {
		start[i] = make(chan uint64)
		go func() {
			for s := range start[i] {
				op := rings[i].Start(context.Background(), allreduce.Tag{Gen: 1, Step: s}, size)
				op.Submit(bufs[i][:size/2])
				op.Submit(bufs[i][size/2:])
				done <- op.Wait()
			}
		}()
	}
	defer func() {
		for i := 1; i < n; i++ {
			close(start[i])
		}
	}()
	var step uint64
	round := func() {
		step++
		for i := 1; i < n; i++ {
			start[i] <- step
		}
		op := rings[0].Start(context.Background(), allreduce.Tag{Gen: 1, Step: step}, size)
		op.Submit(bufs[0][:size/2])
		op.Submit(bufs[0][size/2:])
		if err := op.Wait(); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < n; i++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	round() // connect, size the buffers
	round()
	if a := testing.AllocsPerRun(20, round); a != 0 {
		t.Errorf("allocations per all-reduce (all %d ranks) = %v; want 0", n, a)
	}
}
