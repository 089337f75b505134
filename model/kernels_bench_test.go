package model

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/craftml/craft/model/gemm"
)

// cpuLoop runs f in a benchmark loop and reports the CPU ns of the
// benchmark's thread per op (see threadCPU).
func cpuLoop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64((threadCPU()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

var sink float32

func BenchmarkExpf(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 4096, 3)
	cpuLoop(b, func() {
		var s float32
		for _, v := range x {
			s += expf(v)
		}
		sink = s
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
}

func BenchmarkGELU(b *testing.B) {
	const n = 12 * 64 * 512
	rng := rand.New(rand.NewPCG(1, 1))
	in, out, th, d := randSlice(rng, n, 1), make([]float32, n), make([]float32, n), randSlice(rng, n, 1)
	b.Run("forward", func(b *testing.B) {
		cpuLoop(b, func() {
			geluForward(out, th, in, 0, n)
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
	b.Run("backward", func(b *testing.B) {
		cpuLoop(b, func() {
			geluBackward(out, d, th, 0, n, true)
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
}

func BenchmarkAttention(b *testing.B) {
	const B, T, C, NH = 12, 64, 128, 4
	rng := rand.New(rand.NewPCG(1, 1))
	qkv, dy := randSlice(rng, B*T*3*C, 1), randSlice(rng, B*T*C, 1)
	out, att, datt, dqkv := make([]float32, B*T*C), make([]float32, B*NH*T*T), make([]float32, B*NH*T*T), make([]float32, B*T*3*C)
	b.Run("forward", func(b *testing.B) {
		cpuLoop(b, func() {
			attentionForward(out, att, nil, qkv, nil, T, C, NH, 0, B*NH)
		})
	})
	b.Run("backward", func(b *testing.B) {
		cpuLoop(b, func() {
			attentionBackward(dqkv, datt, dy, qkv, att, nil, nil, T, C, NH, 0, B*NH, 0)
		})
	})
	b.Run("softmax", func(b *testing.B) {
		cpuLoop(b, func() {
			for i := 0; i < B*NH*T; i++ {
				softmaxCausalRow(att[i*T:i*T+T], i%T+1)
			}
		})
	})
}

func BenchmarkLayerNorm(b *testing.B) {
	const N, C = 768, 128
	rng := rand.New(rand.NewPCG(1, 1))
	in, w, bb, d := randSlice(rng, N*C, 1), randSlice(rng, C, 1), randSlice(rng, C, 1), randSlice(rng, N*C, 1)
	out, mean, rstd, din, dw, db := make([]float32, N*C), make([]float32, N), make([]float32, N), make([]float32, N*C), make([]float32, C), make([]float32, C)
	b.Run("forward", func(b *testing.B) {
		cpuLoop(b, func() {
			layerNormForward(out, mean, rstd, in, w, bb, C, 0, N)
		})
	})
	b.Run("backward", func(b *testing.B) {
		cpuLoop(b, func() {
			layerNormBackwardRows(din, d, in, mean, rstd, w, C, 0, N, true)
			layerNormBackwardCols(dw, db, d, in, mean, rstd, N, C, 0, C)
		})
	})
}

func BenchmarkTanhRational(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 4096, 3)
	cpuLoop(b, func() {
		var s float32
		for _, v := range x {
			s += tanhRational(v)
		}
		sink = s
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
}

func BenchmarkSoftmaxRow(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 64, 3)
	b.Run("simd", func(b *testing.B) {
		cpuLoop(b, func() {
			for n := 1; n <= 64; n++ {
				softmaxCausalRow(x, n)
			}
		})
	})
	b.Run("go", func(b *testing.B) {
		cpuLoop(b, func() {
			for n := 1; n <= 64; n++ {
				softmaxCausalRowGo(x, n)
			}
		})
	})
}

func BenchmarkExpSum64(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 64, 3)
	y := make([]float32, 64)
	b.Run("asm", func(b *testing.B) {
		cpuLoop(b, func() {
			copy(y, x)
			sink = expSumAVX2(&y[0], 64, 1)
		})
	})
	b.Run("row64", func(b *testing.B) {
		cpuLoop(b, func() {
			copy(y, x)
			softmaxRowAVX2(&y[0], 64, 64)
		})
	})
	b.Run("row5", func(b *testing.B) {
		cpuLoop(b, func() {
			copy(y, x)
			softmaxRowAVX2(&y[0], 5, 8)
		})
	})
}

// BenchmarkAttentionGemm times the multiplies of one attention head
// (T=64, hs=32, rows 3C=384 apart), unblocked, one by one.
func BenchmarkAttentionGemm(b *testing.B) {
	SetThreads(1)
	const T, hs, c3, c = 64, 32, 384, 128
	rng := rand.New(rand.NewPCG(1, 1))
	qkv, dy, a, da := randSlice(rng, T*c3, 1), randSlice(rng, T*c, 1), randSlice(rng, T*T, 1), randSlice(rng, T*T, 1)
	out := make([]float32, T*c3)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"q·kT", func() { gemm.Sgemm(false, true, T, T, hs, 1, qkv, c3, qkv[c:], c3, 0, a, T) }},
		{"a·v", func() { gemm.Sgemm(false, false, T, hs, T, 1, a, T, qkv[2*c:], c3, 0, out, c) }},
		{"aT·dy", func() { gemm.Sgemm(true, false, T, hs, T, 1, a, T, dy, c, 1, out, c3) }},
		{"da·k", func() { gemm.Sgemm(false, false, T, hs, T, 1, da, T, qkv[c:], c3, 1, out, c3) }},
		{"dy·vT", func() { gemm.Sgemm(false, true, T, T, hs, 1, dy, c, qkv[2*c:], c3, 0, da, T) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			for b.Loop() {
				tc.f()
			}
			b.ReportMetric(2*T*T*hs*float64(b.N)/float64((threadCPU()-c0).Nanoseconds()), "GFLOP/cpu-s")
		})
	}
}

// BenchmarkLinearGemm times the three multiplies of a Linear at the baby
// config's shapes (N = 768 rows): forward, input gradient, weight gradient.
func BenchmarkLinearGemm(b *testing.B) {
	SetThreads(1)
	const N = 768
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		name  string
		c, oc int
	}{{"c_attn", 128, 384}, {"c_proj", 128, 128}, {"c_fc", 128, 512}, {"mlp.c_proj", 512, 128}, {"lm_head", 128, 65}} {
		in, w, out := randSlice(rng, N*s.c, 1), randSlice(rng, s.oc*s.c, 1), randSlice(rng, N*s.oc, 1)
		din, dw := make([]float32, N*s.c), make([]float32, s.oc*s.c)
		flop := 2 * float64(N*s.c*s.oc)
		for _, op := range []struct {
			name string
			f    func()
		}{
			{"fwd", func() { gemm.Sgemm(false, true, N, s.oc, s.c, 1, in, s.c, w, s.c, 0, out, s.oc) }},
			{"dIn", func() { gemm.Sgemm(false, false, N, s.c, s.oc, 1, out, s.oc, w, s.c, 0, din, s.c) }},
			{"dW", func() { gemm.Sgemm(true, false, s.oc, s.c, N, 1, out, s.oc, in, s.c, 1, dw, s.c) }},
		} {
			b.Run(s.name+"/"+op.name, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				for b.Loop() {
					op.f()
				}
				b.ReportMetric(flop*float64(b.N)/float64((threadCPU()-c0).Nanoseconds()), "GFLOP/cpu-s")
			})
		}
	}
}

// BenchmarkComb times attention's P·V for one head (T=64, hs=32, no causal
// skipping) through comb4, to set against BenchmarkAttentionGemm/a·v.
func BenchmarkComb(b *testing.B) {
	if !useAVX512 {
		b.Skip("no AVX-512")
	}
	const T, hs, c3, c = 64, 32, 384, 128
	rng := rand.New(rand.NewPCG(1, 1))
	qkv, a := randSlice(rng, T*c3, 1), randSlice(rng, T*T, 1)
	out := make([]float32, T*c)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	for b.Loop() {
		for i0 := 0; i0 < T; i0 += 4 {
			comb4(out[i0*c:], c, a[i0*T:], T, 1, qkv[2*c:], c3, T, hs, false)
		}
	}
	b.ReportMetric(2*T*T*hs*float64(b.N)/float64((threadCPU()-c0).Nanoseconds()), "GFLOP/cpu-s")
}
