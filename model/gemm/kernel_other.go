//go:build !amd64

package gemm

func bestKernel() *kernel { return kernelGo }

// kernels lists every kernel this machine can run, best first.
func kernels() []*kernel { return []*kernel{kernelGo} }

// microAsm is never reached: no assembly kernel is registered here.
func microAsm(id, mr, nr, kc int, a []float32, rsa, csa int, b, c []float32, ldc int, alpha, beta float32, rows, cols int, load bool) {
	panic("gemm: no assembly kernels on this architecture")
}

// dotStep is 0: no dot-product kernel here.
func dotStep(id int) int { return 0 }

// dot4 is never reached: dotStep is 0.
func dot4(id, k int, x, w []float32, ld int, s *[4]float32) {
	panic("gemm: no assembly kernels on this architecture")
}
