package gemm

import "golang.org/x/sys/cpu"

var (
	kernelAVX2   = &kernel{name: "avx2", id: idAVX2, mr: 6, nr: 16, kc: 256, mc: 96, nc: 512}
	kernelAVX512 = &kernel{name: "avx512", id: idAVX512, mr: 12, nr: 32, kc: 256, mc: 96, nc: 512}
)

func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }
func hasAVX512() bool { return cpu.X86.HasAVX512F }

func bestKernel() *kernel {
	switch {
	case hasAVX512():
		return kernelAVX512
	case hasAVX2():
		return kernelAVX2
	}
	return kernelGo
}

//go:generate go run gen_kernels.go

// kernels lists every kernel this machine can run, best first.
func kernels() []*kernel {
	var ks []*kernel
	if hasAVX512() {
		ks = append(ks, kernelAVX512)
	}
	if hasAVX2() {
		ks = append(ks, kernelAVX2)
	}
	return append(ks, kernelGo)
}

// microAsm calls the assembly micro-kernel id. The slices are cut to what
// the kernel reads and writes, so a wrong caller panics here instead of
// corrupting memory.
func microAsm(id, kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	ld := 0
	if load {
		ld = 1
	}
	switch id {
	case idAVX512:
		a, b, c = a[:12*kc], b[:32*kc], c[:11*ldc+32]
		microAVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta, ld)
	case idAVX2:
		a, b, c = a[:6*kc], b[:16*kc], c[:5*ldc+16]
		microAVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta, ld)
	default:
		panic("gemm: unknown kernel")
	}
}

// microAVX512 is the 12×32 AVX-512 micro-kernel (kernel_amd64.s): C = alpha*A·B
// + beta*C over the packed panels a (kc×12) and b (kc×32); C is not read
// when load is 0.
//
//go:noescape
func microAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32, load int)

// microAVX2 is the 6×16 AVX2+FMA micro-kernel (kernel_amd64.s), as microAVX512.
//
//go:noescape
func microAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32, load int)
