package allreduce

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestRandomized runs random clusters (ranks, lengths, segment sizes, wire
// formats, buckets) over a network with random delays and checks every rank
// against NaiveSum bit for bit.
func TestRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 11))
	for iter := range 30 {
		n := 2 + rng.IntN(5)
		size := rng.IntN(5000)
		cfg := DefaultConfig()
		cfg.SegmentBytes = 64 + rng.IntN(4096)
		cfg.Wire = Wire(rng.IntN(3))
		mc := DefaultMemConfig()
		mc.QueueMessages = 1 + rng.IntN(4)
		mc.MaxDelay = time.Duration(rng.IntN(50)) * time.Microsecond
		mc.Seed = rng.Uint64()
		var parts []int
		for left := size; left > 0; {
			k := min(left, rng.IntN(size/2+1)+1)
			parts = append(parts, k)
			left -= k
		}
		name := fmt.Sprintf("%d/n=%d/len=%d/seg=%d/%v/buckets=%d", iter, n, size, cfg.SegmentBytes, cfg.Wire, len(parts))
		t.Run(name, func(t *testing.T) {
			ts := NewMemNetwork(mc).Endpoints(n)
			in := make([][]float32, n)
			out := make([][]float32, n)
			for r := range n {
				in[r] = make([]float32, size)
				for j := range in[r] {
					in[r][j] = float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(20)-10)))
				}
				out[r] = append([]float32(nil), in[r]...)
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for r := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ring := New(ts[r], cfg)
					defer ring.Close()
					defer ts[r].Close()
					ctx := context.Background()
					if err := ring.Configure(ctx, Membership{Run: 5, Gen: 3, Rank: r, Peers: Addrs(ts)}); err != nil {
						errs[r] = err
						return
					}
					op := ring.Start(ctx, Tag{Gen: 3, Step: 1}, size)
					off := 0
					for _, k := range parts {
						op.Submit(out[r][off : off+k])
						off += k
					}
					errs[r] = op.Wait()
				}()
			}
			wg.Wait()
			want := NaiveSum(cfg, in)
			for r := range n {
				if errs[r] != nil {
					t.Fatalf("rank %d: %v", r, errs[r])
				}
				for j := range want {
					if math.Float32bits(out[r][j]) != math.Float32bits(want[j]) {
						t.Fatalf("rank %d: buf[%d] = %v; want %v (NaiveSum)", r, j, out[r][j], want[j])
					}
				}
			}
		})
	}
}
