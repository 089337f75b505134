package allreducetest

import (
	"context"
	"testing"

	"github.com/craftml/craft/allreduce"
)

// Bench measures AllReduce of bytes (float32 elements) across n ranks made
// by newCluster, all in this process: one iteration is one AllReduce on every
// rank. It reports algbw and busbw (= algbw·2(n-1)/n, as nccl-tests define
// it) in GB/s. Ranks 1..n-1 run on goroutines started once, so the timing
// holds the collective only.
func Bench(b *testing.B, newCluster NewCluster, n, bytes int, cfg allreduce.Config) {
	c := NewRings(b, newCluster, n, cfg)
	size := bytes / 4
	bufs := inputs(1, n, size)
	start := make([]chan uint64, n)
	done := make(chan error, n)
	for i := 1; i < n; i++ {
		start[i] = make(chan uint64)
		go func() {
			for step := range start[i] {
				done <- c.Rings[i].AllReduce(context.Background(), allreduce.Tag{Gen: c.Gen, Step: step}, bufs[i])
			}
		}()
	}
	defer func() {
		for i := 1; i < n; i++ {
			close(start[i])
		}
	}()
	round := func(step uint64) {
		for i := 1; i < n; i++ {
			start[i] <- step
		}
		if err := c.Rings[0].AllReduce(context.Background(), allreduce.Tag{Gen: c.Gen, Step: step}, bufs[0]); err != nil {
			b.Fatal(err)
		}
		for i := 1; i < n; i++ {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
	round(0) // warm up: connections, buffers
	b.SetBytes(int64(4 * size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round(uint64(i + 1))
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	algbw := float64(4*size) / sec / 1e9
	b.ReportMetric(algbw, "algbw-GB/s")
	b.ReportMetric(algbw*2*float64(n-1)/float64(n), "busbw-GB/s")
}
