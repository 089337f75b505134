package gemm

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchShape is one multiply the models run: C(m×n) = op(A)(m×k)·op(B)(k×n).
type benchShape struct {
	name    string
	tA, tB  bool
	m, n, k int
	beta    float32
}

// modelShapes are the multiplies of the nanoGPT "baby" config (B*T = 768,
// C = 128) and of the 64→256→10 MLP with batch 256. Linear layers store W
// as (out,in) and compute out = in·Wᵀ.
var modelShapes = []benchShape{
	// Linear forward out(768×N) = in(768×K)·Wᵀ.
	{"fwd_qkv", false, true, 768, 384, 128, 0},
	{"fwd_proj", false, true, 768, 128, 128, 0},
	{"fwd_fc", false, true, 768, 512, 128, 0},
	{"fwd_mlpproj", false, true, 768, 128, 512, 0},
	{"fwd_head", false, true, 768, 65, 128, 0},
	// Linear backward dIn(768×K) = dOut(768×N)·W(N×K).
	{"bwd_in_qkv", false, false, 768, 128, 384, 0},
	{"bwd_in_fc", false, false, 768, 128, 512, 0},
	{"bwd_in_mlpproj", false, false, 768, 512, 128, 0},
	{"bwd_in_head", false, false, 768, 128, 65, 0},
	// Linear backward dW(N×K) += dOutᵀ(N×768)·in(768×K).
	{"bwd_w_qkv", true, false, 384, 128, 768, 1},
	{"bwd_w_fc", true, false, 512, 128, 768, 1},
	{"bwd_w_mlpproj", true, false, 128, 512, 768, 1},
	{"bwd_w_head", true, false, 65, 128, 768, 1},
	// Attention per (batch, head): T = 64, head size 32.
	{"att_qk", false, true, 64, 64, 32, 0},
	{"att_v", false, false, 64, 32, 64, 0},
	{"att_bwd_datt", false, true, 64, 64, 32, 0},
	{"att_bwd_dv", true, false, 64, 32, 64, 0},
	{"att_bwd_dq", false, false, 64, 32, 64, 0},
	{"att_bwd_dk", true, false, 64, 32, 64, 0},
	// MLP 64→256→10, batch 256.
	{"mlp_fwd1", false, true, 256, 256, 64, 0},
	{"mlp_fwd2", false, true, 256, 10, 256, 0},
	{"mlp_bwd_w1", true, false, 256, 64, 256, 1},
	{"mlp_bwd_in2", false, false, 256, 256, 10, 0},
}

func (s benchShape) String() string {
	t := func(x bool) string {
		if x {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s_%dx%dx%d_%s%s", s.name, s.m, s.n, s.k, t(s.tA), t(s.tB))
}

// operands returns random A, B and C of the shape's sizes with tight strides.
func (s benchShape) operands(rng *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32) {
	lda, ldb = s.k, s.n
	if s.tA {
		lda = s.m
	}
	if s.tB {
		ldb = s.k
	}
	a = randSlice(rng, s.m*s.k)
	b = randSlice(rng, s.k*s.n)
	c = randSlice(rng, s.m*s.n)
	return a, lda, b, ldb, c
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	return x
}

// reportGFLOPs reports GFLOP/s over wall time and, as GFLOP/cpu-s, over the
// CPU time the process used since cpu0: the second is steadier when other
// processes share the cores, and shows per-core efficiency with threads.
func reportGFLOPs(b *testing.B, s benchShape, cpu0 time.Duration) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkSgemm measures Sgemm at the model's shapes with SetThreads(0), so
// `-cpu 1,2` gives the one- and two-thread figures.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range modelShapes {
		b.Run(s.String(), func(b *testing.B) {
			SetThreads(0)
			defer SetThreads(0)
			a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
			}
			reportGFLOPs(b, s, cpu0)
		})
	}
}

// BenchmarkReference measures the plain triple loop at the model's shapes.
func BenchmarkReference(b *testing.B) {
	for _, s := range modelShapes {
		b.Run(s.String(), func(b *testing.B) {
			a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
			cpu0 := cpuTime()
			for b.Loop() {
				Reference(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
			}
			reportGFLOPs(b, s, cpu0)
		})
	}
}

// BenchmarkGonum measures gonum's pure-Go blas32.Gemm at the model's shapes
// (it uses GOMAXPROCS goroutines on large shapes).
func BenchmarkGonum(b *testing.B) {
	for _, s := range modelShapes {
		b.Run(s.String(), func(b *testing.B) {
			a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
			tr := func(x bool) blas.Transpose {
				if x {
					return blas.Trans
				}
				return blas.NoTrans
			}
			ga := blas32.General{Rows: s.m, Cols: s.k, Stride: lda, Data: a}
			if s.tA {
				ga.Rows, ga.Cols = s.k, s.m
			}
			gb := blas32.General{Rows: s.k, Cols: s.n, Stride: ldb, Data: bb}
			if s.tB {
				gb.Rows, gb.Cols = s.n, s.k
			}
			gc := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
			cpu0 := cpuTime()
			for b.Loop() {
				blas32.Gemm(tr(s.tA), tr(s.tB), 1, ga, gb, s.beta, gc)
			}
			reportGFLOPs(b, s, cpu0)
		})
	}
}

// stepCall is one multiply of a training step and how many times it runs.
type stepCall struct {
	s     benchShape
	times int
}

// gptStep lists the multiplies of one training step of the nanoGPT "baby"
// config (4 layers, 4 heads, C = 128, T = 64, batch 12, vocab 65): the
// linear layers forward and backward, and attention per (batch, head).
func gptStep() []stepCall {
	const layers, pairs = 4, 12 * 4
	var calls []stepCall
	for _, s := range modelShapes {
		switch {
		case strings.HasPrefix(s.name, "att_"):
			calls = append(calls, stepCall{s, layers * pairs})
		case strings.HasSuffix(s.name, "_head"):
			calls = append(calls, stepCall{s, 1})
		case strings.HasPrefix(s.name, "mlp_"):
		default:
			calls = append(calls, stepCall{s, layers})
		}
	}
	// The backward of c_proj (128 wide in and out) is missing from
	// modelShapes: dIn 768×128×128 NN and dW 128×128×768 TN.
	calls = append(calls,
		stepCall{benchShape{"bwd_in_proj", false, false, 768, 128, 128, 0}, layers},
		stepCall{benchShape{"bwd_w_proj", true, false, 128, 128, 768, 1}, layers})
	return calls
}

// BenchmarkGPTStepMix runs the multiplies of one GPT training step, one
// after the other, with Sgemm and with gonum, and reports the overall
// GFLOP/s (use -cpu 1,2 for one and two threads).
func BenchmarkGPTStepMix(b *testing.B) {
	calls := gptStep()
	type prepared struct {
		a, bb, c []float32
		lda, ldb int
	}
	ops := make([]prepared, len(calls))
	var flops float64
	for i, sc := range calls {
		a, lda, bb, ldb, c := sc.s.operands(rand.New(rand.NewPCG(uint64(i), 9)))
		ops[i] = prepared{a, bb, c, lda, ldb}
		flops += 2 * float64(sc.s.m*sc.s.n*sc.s.k*sc.times)
	}
	report := func(b *testing.B, cpu0 time.Duration) {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu := cpuTime() - cpu0; cpu > 0 {
			b.ReportMetric(flops*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
	}
	b.Run("sgemm", func(b *testing.B) {
		SetThreads(0)
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			for i, sc := range calls {
				s, o := sc.s, ops[i]
				for range sc.times {
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, o.a, o.lda, o.bb, o.ldb, s.beta, o.c, s.n)
				}
			}
		}
		report(b, cpu0)
	})
	b.Run("gonum", func(b *testing.B) {
		tr := func(x bool) blas.Transpose {
			if x {
				return blas.Trans
			}
			return blas.NoTrans
		}
		cpu0 := cpuTime()
		for b.Loop() {
			for i, sc := range calls {
				s, o := sc.s, ops[i]
				ga := blas32.General{Rows: s.m, Cols: s.k, Stride: o.lda, Data: o.a}
				if s.tA {
					ga.Rows, ga.Cols = s.k, s.m
				}
				gb := blas32.General{Rows: s.k, Cols: s.n, Stride: o.ldb, Data: o.bb}
				if s.tB {
					gb.Rows, gb.Cols = s.n, s.k
				}
				gc := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: o.c}
				for range sc.times {
					blas32.Gemm(tr(s.tA), tr(s.tB), 1, ga, gb, s.beta, gc)
				}
			}
		}
		report(b, cpu0)
	})
}

// BenchmarkSgemmPaths measures each micro-kernel this machine can run
// (AVX-512, AVX2+FMA, pure Go) at a large and a small shape, one thread.
func BenchmarkSgemmPaths(b *testing.B) {
	for _, kn := range kernels() {
		for _, s := range []benchShape{modelShapes[0], modelShapes[13]} {
			b.Run(kn.name+"/"+s.String(), func(b *testing.B) {
				old := active
				active = kn
				defer func() { active = old }()
				SetThreads(1)
				defer SetThreads(0)
				a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
				cpu0 := cpuTime()
				for b.Loop() {
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
				}
				reportGFLOPs(b, s, cpu0)
			})
		}
	}
}

// genShapes are the multiplies of generation with a KV cache: the linear
// layers applied to one token.
var genShapes = []benchShape{
	{"gen_qkv", false, true, 1, 384, 128, 0},
	{"gen_fc", false, true, 1, 512, 128, 0},
	{"gen_mlpproj", false, true, 1, 128, 512, 0},
	{"gen_head", false, true, 1, 65, 128, 0},
}

// BenchmarkSgemmGenerate measures Sgemm at the shapes of generation.
func BenchmarkSgemmGenerate(b *testing.B) {
	for _, s := range genShapes {
		b.Run(s.String(), func(b *testing.B) {
			a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
			}
			reportGFLOPs(b, s, cpu0)
		})
	}
}

// BenchmarkThreadsRatio alternates one-thread and two-thread calls of the
// same shape, so both see the same load from other processes, and reports
// each one's GFLOP/s and their ratio (needs GOMAXPROCS >= 2).
func BenchmarkThreadsRatio(b *testing.B) {
	for _, s := range []benchShape{modelShapes[0], modelShapes[1], modelShapes[2], modelShapes[5], modelShapes[9]} {
		b.Run(s.String(), func(b *testing.B) {
			defer SetThreads(0)
			a, lda, bb, ldb, c := s.operands(rand.New(rand.NewPCG(1, 2)))
			var t1, t2 time.Duration
			for b.Loop() {
				SetThreads(1)
				start := time.Now()
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
				t1 += time.Since(start)
				SetThreads(2)
				start = time.Now()
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, s.beta, c, s.n)
				t2 += time.Since(start)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
			b.ReportMetric(flops/t1.Seconds()/1e9, "GFLOP/s-1t")
			b.ReportMetric(flops/t2.Seconds()/1e9, "GFLOP/s-2t")
			b.ReportMetric(t1.Seconds()/t2.Seconds(), "speedup")
		})
	}
}
