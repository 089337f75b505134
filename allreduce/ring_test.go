package allreduce

import (
	"context"
	"sync"
	"testing"
)

func TestRingSmoke(t *testing.T) {
	net := NewMemNetwork(DefaultMemConfig())
	n := 3
	ts := net.Endpoints(n)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64
	rings := make([]*Ring, n)
	for i := range rings {
		rings[i] = New(ts[i], cfg)
		if err := rings[i].Configure(context.Background(), Membership{Run: 1, Gen: 1, Rank: i, Peers: Addrs(ts)}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i := range rings {
			rings[i].Close()
			ts[i].Close()
		}
	}()
	bufs := make([][]float32, n)
	for i := range bufs {
		bufs[i] = make([]float32, 101)
		for j := range bufs[i] {
			bufs[i][j] = float32(i*1000 + j)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rings[i].AllReduce(context.Background(), Tag{Gen: 1, Step: 1}, bufs[i])
		}()
	}
	wg.Wait()
	for i := range rings {
		if errs[i] != nil {
			t.Fatalf("rank %d: AllReduce = %v", i, errs[i])
		}
		for j, v := range bufs[i] {
			if want := float32(3000 + 3*j); v != want {
				t.Fatalf("rank %d: buf[%d] = %v; want %v", i, j, v, want)
			}
		}
	}
}
