package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// FuzzSgemm compares every kernel, with one and three threads, with
// Reference on shapes and strides chosen by the fuzzer.
func FuzzSgemm(f *testing.F) {
	f.Add(false, false, uint8(13), uint8(33), uint8(7), uint8(0), uint8(0), uint8(1), uint64(1))
	f.Add(true, true, uint8(64), uint8(65), uint8(32), uint8(5), uint8(2), uint8(0), uint64(2))
	f.Add(false, true, uint8(1), uint8(17), uint8(200), uint8(3), uint8(1), uint8(2), uint64(3))
	f.Add(true, false, uint8(97), uint8(1), uint8(0), uint8(7), uint8(3), uint8(3), uint64(4))
	scalars := []float32{0, 1, -1.5, 0.25}
	parallelAlways(f)
	f.Fuzz(func(t *testing.T, tA, tB bool, m, n, k, pad, alpha, beta uint8, seed uint64) {
		c := gemmCase{
			tA: tA, tB: tB, m: int(m) % 100, n: int(n) % 100, k: int(k),
			alpha: scalars[alpha%4], beta: scalars[beta%4],
			padA: int(pad) % 3, padB: int(pad/3) % 3, padC: int(pad/9) % 3,
		}
		o := c.operands(rand.New(rand.NewPCG(seed, 5)))
		want := append([]float32(nil), o.c...)
		Reference(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, want, o.ldc)
		for _, kn := range kernels() {
			useKernel(t, kn)
			for _, th := range []int{1, 3} {
				useThreads(t, th)
				got := append([]float32(nil), o.c...)
				Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, o.a, o.lda, o.b, o.ldb, c.beta, got, o.ldc)
				c.check(t, fmt.Sprintf("%s threads=%d", kn.name, th), got, want, o.ldc)
			}
		}
	})
}
