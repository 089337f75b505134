package allreduce

import (
	"context"
	"testing"
)

// TestAllReduceAllocs checks that, in the steady state, an AllReduce over the
// memory transport allocates nothing, for every wire format and with buckets.
func TestAllReduceAllocs(t *testing.T) {
	for _, w := range []Wire{WireFloat32, WireBFloat16, WireFloat16} {
		t.Run(w.String(), func(t *testing.T) {
			const n, size = 3, 50_000
			net := NewMemNetwork(DefaultMemConfig())
			ts := net.Endpoints(n)
			cfg := DefaultConfig()
			cfg.Wire, cfg.SegmentBytes = w, 4096
			rings := make([]*Ring, n)
			bufs := make([][]float32, n)
			for i := range rings {
				rings[i] = New(ts[i], cfg)
				if err := rings[i].Configure(context.Background(), Membership{Run: 1, Gen: 1, Rank: i, Peers: Addrs(ts)}); err != nil {
					t.Fatal(err)
				}
				bufs[i] = make([]float32, size)
			}
			// Ranks 1..n-1 follow rank 0 from goroutines started once.
			var step uint64
			start := make([]chan uint64, n)
			done := make(chan error, n)
			for i := 1; i < n; i++ {
				start[i] = make(chan uint64)
				go func() {
					for s := range start[i] {
						op := rings[i].Start(context.Background(), Tag{Gen: 1, Step: s}, size)
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
				for i := range rings {
					rings[i].Close()
					ts[i].Close()
				}
			}()
			ctx := context.Background()
			round := func() {
				step++
				for i := 1; i < n; i++ {
					start[i] <- step
				}
				op := rings[0].Start(ctx, Tag{Gen: 1, Step: step}, size)
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
			round() // warm up: workers, buffers, links
			round()
			if a := testing.AllocsPerRun(20, round); a != 0 {
				t.Errorf("allocations per AllReduce (all %d ranks) = %v; want 0", n, a)
			}
		})
	}
}
