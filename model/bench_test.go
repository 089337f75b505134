package model

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkGPTStep times one training step (ZeroGrad, Forward, Backward) of
// nanoGPT's baby Shakespeare config: batch 12 of 64 tokens.
func BenchmarkGPTStep(b *testing.B) {
	for _, tc := range []struct {
		threads int
		dropout float32
	}{{1, 0}, {2, 0}, {1, 0.2}} {
		threads := tc.threads
		name := fmt.Sprintf("threads=%d", threads)
		if tc.dropout > 0 {
			name += fmt.Sprintf(",dropout=%g", tc.dropout)
		}
		b.Run(name, func(b *testing.B) {
			SetThreads(threads)
			defer SetThreads(1)
			cfg := DefaultGPTConfig()
			cfg.Dropout = tc.dropout
			g, err := NewGPT(cfg)
			if err != nil {
				b.Fatal(err)
			}
			batch := randomBatch(rand.New(rand.NewPCG(1, 2)), cfg.MaxBatch, cfg.BlockSize, cfg.VocabSize, false)
			a := g.Arena()
			step := func() {
				a.ZeroGrad()
				_, n := g.Forward(batch, true)
				g.Backward(1 / float32(n))
			}
			step()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, pcpu0 := threadCPU(), processCPU()
			for b.Loop() {
				step()
			}
			cpu, pcpu := threadCPU()-cpu0, processCPU()-pcpu0
			tokens := float64(cfg.MaxBatch * cfg.BlockSize)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(tokens/sec, "tokens/s")
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(FLOPsPerToken(cfg)*tokens/sec/1e9, "GFLOP/s")
			if threads == 1 {
				// CPU time of the one thread doing the work: the step's cost
				// without the time spent waiting for a core on a shared machine.
				b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/step")
			} else {
				// CPU time of all threads: against threads=1's cpu-ms/step it
				// shows what splitting the step costs.
				b.ReportMetric(pcpu.Seconds()*1e3/float64(b.N), "proc-cpu-ms/step")
			}
		})
	}
}

// BenchmarkGPTForward times the forward pass alone.
func BenchmarkGPTForward(b *testing.B) {
	cfg := DefaultGPTConfig()
	g, _ := NewGPT(cfg)
	batch := randomBatch(rand.New(rand.NewPCG(1, 2)), cfg.MaxBatch, cfg.BlockSize, cfg.VocabSize, false)
	b.ReportAllocs()
	for b.Loop() {
		g.Forward(batch, true)
	}
}

// BenchmarkGenerate times greedy generation with the KV cache: a 1-token
// prompt and 63 new tokens (the cache never overflows), and 64 more tokens
// past BlockSize (each recomputes the cropped window).
func BenchmarkGenerate(b *testing.B) {
	g, _ := NewGPT(DefaultGPTConfig())
	for _, n := range []int{63, 127} {
		b.Run(fmt.Sprintf("new=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				g.Generate([]int32{1}, n, Sampling{}, nil)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
