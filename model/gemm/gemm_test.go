package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The worker pool lives for the whole process, by design.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/craftml/craft/model/gemm.(*worker).loop"))
}

// useKernel makes Sgemm use kn until the test ends.
func useKernel(t testing.TB, kn *kernel) {
	t.Helper()
	old := active
	active = kn
	t.Cleanup(func() { active = old })
}

// useThreads sets the thread count until the test ends.
func useThreads(t testing.TB, n int) {
	t.Helper()
	old := int(threads.Load())
	SetThreads(n)
	t.Cleanup(func() { SetThreads(old) })
}

// parallelAlways sends every call with threads > 1 through the threaded
// path until the test ends, however small.
func parallelAlways(t testing.TB) {
	t.Helper()
	old := minParallelFMAs
	minParallelFMAs = 0
	t.Cleanup(func() { minParallelFMAs = old })
}

// gemmCase is one call of Sgemm with strides possibly larger than needed.
type gemmCase struct {
	tA, tB           bool
	m, n, k          int
	alpha, beta      float32
	padA, padB, padC int // extra elements per row beyond the minimum stride
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d/%d/%d",
		c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

// operands holds the inputs of a case; C rows are padded with a sentinel
// that Sgemm must leave alone.
type operands struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

const sentinel = 12345

func (c gemmCase) operands(rng *rand.Rand) operands {
	ar, ac := c.m, c.k
	if c.tA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.tB {
		br, bc = c.n, c.k
	}
	o := operands{lda: max(1, ac) + c.padA, ldb: max(1, bc) + c.padB, ldc: max(1, c.n) + c.padC}
	o.a = randSlice(rng, ar*o.lda)
	o.b = randSlice(rng, br*o.ldb)
	o.c = randSlice(rng, c.m*o.ldc)
	for i := 0; i < c.m; i++ {
		for j := c.n; j < o.ldc; j++ {
			o.c[i*o.ldc+j] = sentinel
		}
	}
	return o
}

// check compares got with want, element by element, within a tolerance
// relative to k·max|a|·max|b| (inputs are in [-1, 1]).
func (c gemmCase) check(t *testing.T, what string, got, want []float32, ldc int) {
	t.Helper()
	tol := float64(1e-6) * (float64(c.k+1)*math.Abs(float64(c.alpha)) + math.Abs(float64(c.beta)) + 1)
	bad := 0
	for i := 0; i < c.m; i++ {
		for j := 0; j < ldc; j++ {
			g, w := got[i*ldc+j], want[i*ldc+j]
			if j >= c.n {
				if g != sentinel {
					t.Errorf("%s: Sgemm(%v) wrote C[%d,%d] = %g beyond column n; want it untouched", what, c, i, j, g)
					return
				}
				continue
			}
			if d := math.Abs(float64(g - w)); !(d <= tol) {
				t.Errorf("%s: Sgemm(%v) C[%d,%d] = %g; want %g (tolerance %g)", what, c, i, j, g, w, tol)
				if bad++; bad > 5 {
					return
				}
			}
		}
	}
}

func testCases(rng *rand.Rand) []gemmCase {
	sizes := []int{0, 1, 2, 3, 5, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 64, 97}
	scalars := [][2]float32{{1, 0}, {1, 1}, {0.5, -1.5}, {-2, 0}, {0, 0.5}, {1.25, 1}}
	var cases []gemmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for i := 0; i < 40; i++ {
				if raceEnabled && i%3 != 0 {
					continue
				}
				s := scalars[rng.IntN(len(scalars))]
				cases = append(cases, gemmCase{
					tA: tA, tB: tB,
					m: sizes[rng.IntN(len(sizes))], n: sizes[rng.IntN(len(sizes))], k: sizes[rng.IntN(len(sizes))],
					alpha: s[0], beta: s[1],
					padA: rng.IntN(3) * rng.IntN(4), padB: rng.IntN(3) * rng.IntN(4), padC: rng.IntN(3) * rng.IntN(4),
				})
			}
			// Past the blocking sizes: several k blocks (kc = 256), several
			// row blocks (mc = 256 in Go), several B blocks (nc = 512), edges.
			cases = append(cases,
				gemmCase{tA: tA, tB: tB, m: 101, n: 67, k: 600, alpha: 1, beta: 1, padA: 3, padB: 1, padC: 2},
				gemmCase{tA: tA, tB: tB, m: 200, n: 37, k: 261, alpha: -0.5, beta: 0},
				gemmCase{tA: tA, tB: tB, m: 13, n: 530, k: 40, alpha: 2, beta: 0.25, padC: 1},
				gemmCase{tA: tA, tB: tB, m: 96, n: 64, k: 128, alpha: 1, beta: 0},
				// Past mc (768 rows with AVX-512) with a short last tile.
				gemmCase{tA: tA, tB: tB, m: 790, n: 45, k: 70, alpha: 1, beta: 0.5, padA: 1},
				// One row or one column of C: the dot-product path.
				gemmCase{tA: tA, tB: tB, m: 1, n: 70, k: 600, alpha: 1, beta: 0, padA: 1, padB: 2},
				gemmCase{tA: tA, tB: tB, m: 1, n: 385, k: 128, alpha: -0.5, beta: 1.25, padC: 3},
				gemmCase{tA: tA, tB: tB, m: 70, n: 1, k: 333, alpha: 2, beta: 0.5, padA: 2, padB: 1, padC: 2},
				gemmCase{tA: tA, tB: tB, m: 4, n: 45, k: 100, alpha: 1, beta: 1, padA: 1, padC: 1},
				gemmCase{tA: tA, tB: tB, m: 37, n: 3, k: 64, alpha: 1, beta: 0, padB: 2},
			)
		}
	}
	return cases
}

// TestSgemm compares every kernel at thread counts 1 to 4 with Reference.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := testCases(rng)
	type input struct {
		o    operands
		want []float32
	}
	inputs := make([]input, len(cases))
	for i, c := range cases {
		o := c.operands(rand.New(rand.NewPCG(uint64(i), 3)))
		want := append([]float32(nil), o.c...)
		Reference(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, want, o.ldc)
		inputs[i] = input{o, want}
	}
	parallelAlways(t)
	for _, kn := range kernels() {
		t.Run(kn.name, func(t *testing.T) {
			useKernel(t, kn)
			for th := 1; th <= 4; th++ {
				useThreads(t, th)
				for i, c := range cases {
					in := inputs[i]
					got := append([]float32(nil), in.o.c...)
					Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, in.o.a, in.o.lda, in.o.b, in.o.ldb, c.beta, got, in.o.ldc)
					c.check(t, fmt.Sprintf("%s threads=%d", kn.name, th), got, in.want, in.o.ldc)
				}
			}
		})
	}
}

// TestSgemmModelShapes compares every kernel with Reference at the model's
// shapes, with one and two threads.
func TestSgemmModelShapes(t *testing.T) {
	for _, s := range modelShapes {
		if raceEnabled && s.m*s.n*s.k > 1<<22 {
			continue // the small shapes cover the same paths
		}
		c := gemmCase{tA: s.tA, tB: s.tB, m: s.m, n: s.n, k: s.k, alpha: 1, beta: s.beta}
		o := c.operands(rand.New(rand.NewPCG(5, 6)))
		want := append([]float32(nil), o.c...)
		Reference(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, want, o.ldc)
		for _, kn := range kernels() {
			for th := 1; th <= 2; th++ {
				useKernel(t, kn)
				useThreads(t, th)
				got := append([]float32(nil), o.c...)
				Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, got, o.ldc)
				c.check(t, fmt.Sprintf("%s %s threads=%d", s, kn.name, th), got, want, o.ldc)
			}
		}
	}
}

// TestSgemmDeterministic checks that results are bitwise the same for every
// thread count and every repetition.
func TestSgemmDeterministic(t *testing.T) {
	parallelAlways(t)
	cases := []gemmCase{
		{tA: false, tB: true, m: 300, n: 130, k: 700, alpha: 1, beta: 0.5},
		{tA: true, tB: false, m: 77, n: 515, k: 300, alpha: -1, beta: 0},
	}
	for _, kn := range kernels() {
		useKernel(t, kn)
		for _, c := range cases {
			o := c.operands(rand.New(rand.NewPCG(1, 1)))
			var first []float32
			for th := 1; th <= 4; th++ {
				useThreads(t, th)
				for rep := 0; rep < 2; rep++ {
					got := append([]float32(nil), o.c...)
					Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, got, o.ldc)
					if first == nil {
						first = got
						continue
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%s threads=%d rep=%d: Sgemm(%v) C[%d] = %g; want %g as with 1 thread", kn.name, th, rep, c, i, got[i], first[i])
						}
					}
				}
			}
		}
	}
}

// TestSgemmBetaZeroIgnoresC checks that with beta == 0 NaNs in C vanish.
func TestSgemmBetaZeroIgnoresC(t *testing.T) {
	for _, kn := range kernels() {
		useKernel(t, kn)
		for _, k := range []int{0, 1, 300} {
			const m, n = 37, 45
			rng := rand.New(rand.NewPCG(2, 2))
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(math.NaN())
			}
			Sgemm(false, false, m, n, k, 1, a, max(k, 1), b, n, 0, c, n)
			for i, v := range c {
				if v != v {
					t.Fatalf("%s: Sgemm(k=%d, beta=0) C[%d] = NaN; want C ignored", kn.name, k, i)
				}
			}
		}
	}
}

// TestSgemmPanics checks that caller bugs panic with a "gemm:" message.
func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	tests := []struct {
		name string
		call func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, s, 2, s, 2, 0, s, 2) }},
		{"ldb too small transposed", func() { Sgemm(false, true, 2, 3, 4, 1, s, 4, s, 3, 0, s, 3) }},
		{"A too short", func() { Sgemm(false, false, 20, 2, 10, 1, s, 10, s, 2, 0, s, 2) }},
		{"C too short", func() { Sgemm(false, false, 11, 10, 1, 1, s, 1, s, 10, 0, s, 10) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "gemm:") {
					t.Errorf("Sgemm(%s) panicked with %v; want a \"gemm:\" message", tt.name, r)
				}
			}()
			tt.call()
		})
	}
}

// TestSgemmNoAllocs checks that steady-state calls allocate nothing, with
// one thread and with several (with the kernel of this machine: the others
// share the same driver).
func TestSgemmNoAllocs(t *testing.T) {
	for _, kn := range kernels()[:1] {
		useKernel(t, kn)
		for th := 1; th <= 2; th++ {
			useThreads(t, th)
			for _, s := range append(modelShapes[:len(modelShapes):len(modelShapes)], genShapes...) {
				a, lda, b, ldb, c := s.operands(rand.New(rand.NewPCG(3, 3)))
				f := func() { Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, b, ldb, s.beta, c, s.n) }
				f() // grow the buffers and start the workers
				if got := testing.AllocsPerRun(5, f); got != 0 {
					t.Errorf("%s threads=%d: Sgemm(%v) allocates %v times per call; want 0", kn.name, th, s, got)
				}
			}
		}
	}
}

// TestSgemmConcurrent runs threaded calls from several goroutines at once
// (run with -race).
func TestSgemmConcurrent(t *testing.T) {
	parallelAlways(t)
	useThreads(t, 3)
	c := gemmCase{tA: false, tB: true, m: 130, n: 70, k: 150, alpha: 1, beta: 0}
	o := c.operands(rand.New(rand.NewPCG(4, 4)))
	want := append([]float32(nil), o.c...)
	Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, want, o.ldc)
	done := make(chan []float32)
	for g := 0; g < 4; g++ {
		go func() {
			got := append([]float32(nil), o.c...)
			for range 5 {
				Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, got, o.ldc)
			}
			done <- got
		}()
	}
	for g := 0; g < 4; g++ {
		got := <-done
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("concurrent Sgemm(%v) C[%d] = %g; want %g", c, i, got[i], want[i])
			}
		}
	}
}

// TestKernel checks that Kernel names the best kernel this machine runs.
func TestKernel(t *testing.T) {
	if got, want := Kernel(), kernels()[0].name; got != want {
		t.Errorf("Kernel() = %q; want %q", got, want)
	}
}

func newTestRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 17)) }
