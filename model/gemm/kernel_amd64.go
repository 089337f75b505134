package gemm

import "golang.org/x/sys/cpu"

var (
	kernelAVX2   = &kernel{name: "avx2", id: idAVX2, mr: 6, nr: 16, kc: 256, mc: 384, nc: 512}
	kernelAVX512 = &kernel{name: "avx512", id: idAVX512, mr: 12, nr: 32, kc: 256, mc: 768, nc: 512}
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
func microAsm(id, mr, nr, kc int, a []float32, rsa, csa int, b, c []float32, ldc int, alpha, beta float32, rows, cols int, load bool) {
	ld := 0
	if load {
		ld = 1
	}
	a = a[:(mr-1)*rsa+(kc-1)*csa+1]
	b = b[:nr*kc]
	c = c[:(rows-1)*ldc+cols]
	cmask := 1<<cols - 1
	half := cols <= nr/2 // the last panel of C: half the work
	switch {
	case id == idAVX512 && rows <= 6 && half: // the last tile of C: a quarter
		microAVX512Rows6Half(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	case id == idAVX512 && rows <= 6:
		microAVX512Rows6(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	case id == idAVX512 && half:
		microAVX512Half(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	case id == idAVX512:
		microAVX512(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	case id == idAVX2 && half:
		microAVX2Half(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	case id == idAVX2:
		microAVX2(kc, &a[0], rsa, csa, &b[0], &c[0], ldc, alpha, beta, rows, cmask, ld)
	default:
		panic("gemm: unknown kernel")
	}
}

// microAVX512 is the 12×32 AVX-512 micro-kernel (kernel_amd64.s): it sets
// the first rows rows and the columns in cmask of the tile c to alpha*A·B
// + beta*C (C is not read when load is 0), where A(i, p) = a[i*rsa + p*csa]
// and b is a packed panel (kc×32).
//
//go:noescape
func microAVX512(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// microAVX2 is the 6×16 AVX2+FMA micro-kernel (kernel_amd64.s), as microAVX512.
//
//go:noescape
func microAVX2(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// microAVX512Half is microAVX512 for at most 16 columns: it computes the
// 12×16 tile from the first half of each row of the panel b (kc×32).
//
//go:noescape
func microAVX512Half(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// microAVX512Rows6 is microAVX512 for at most 6 rows: it computes the 6×32
// tile from the first 6 rows of A.
//
//go:noescape
func microAVX512Rows6(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// microAVX512Rows6Half is microAVX512 for at most 6 rows and 16 columns.
//
//go:noescape
func microAVX512Rows6Half(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// microAVX2Half is microAVX2 for at most 8 columns: it computes the 6×8
// tile from the first half of each row of the panel b (kc×16).
//
//go:noescape
func microAVX2Half(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)

// dotStep is the multiple of k the dot4 kernel of id works on (0: none).
func dotStep(id int) int {
	switch id {
	case idAVX512:
		return 32
	case idAVX2:
		return 16
	}
	return 0
}

// dot4 sets s[r] to the dot product of x[:k] and w[r*ld : r*ld+k] for r < 4,
// k a multiple of dotStep(id).
func dot4(id, k int, x, w []float32, ld int, s *[4]float32) {
	x = x[:k]
	w = w[:3*ld+k]
	switch id {
	case idAVX512:
		dot4AVX512(k, &x[0], &w[0], ld, s)
	case idAVX2:
		dot4AVX2(k, &x[0], &w[0], ld, s)
	default:
		panic("gemm: unknown kernel")
	}
}

// dot4AVX512 sets out[r] to the dot product of x and the row w+r·ldw over
// k elements, k a multiple of 32 (kernel_amd64.s).
//
//go:noescape
func dot4AVX512(k int, x, w *float32, ldw int, out *[4]float32)

// dot4AVX2 is dot4AVX512 for k a multiple of 16.
//
//go:noescape
func dot4AVX2(k int, x, w *float32, ldw int, out *[4]float32)
