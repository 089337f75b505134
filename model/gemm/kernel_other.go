//go:build !amd64

package gemm

func bestKernel() *kernel { return kernelGo }

// kernels lists every kernel this machine can run, best first.
func kernels() []*kernel { return []*kernel{kernelGo} }

// microAsm is never reached: no assembly kernel is registered here.
func microAsm(id, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	panic("gemm: no assembly kernels on this architecture")
}
