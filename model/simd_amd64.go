//go:build amd64

package model

// AVX2+FMA versions of the elementwise kernels (simd_amd64.s). Each handles
// n rounded down to a multiple of 8; callers finish the tail with the Go
// code beside it, and split work at multiples of 8 so an element's result
// never depends on the split.

//go:noescape
func geluForwardAVX2(out, dg, in *float32, n int)

//go:noescape
func geluBackwardAVX2(dIn, dOut, dg *float32, n, acc int) // acc 0: dIn = …, 1: dIn += …

// expSumAVX2 replaces x[i] by e^(x[i]-m) for i < n (a multiple of 8) and
// returns their sum.
//
//go:noescape
func expSumAVX2(x *float32, n int, m float32) float32

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// useAVX2 reports whether the CPU and OS support AVX2 and FMA.
var useAVX2 = detectAVX2()

// useAVX512 reports whether they support AVX-512F too (and AVX2).
var useAVX512 = useAVX2 && detectAVX512()

func detectAVX512() bool {
	_, ebx7, _, _ := cpuid(7, 0)
	if ebx7&(1<<16) == 0 { // AVX512F
		return false
	}
	xcr0, _ := xgetbv()
	return xcr0&0xe6 == 0xe6 // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM state
}

func detectAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// softmaxRowAVX2 replaces x[:n8] by the softmax of x[:n] followed by
// zeros; 1 ≤ n ≤ n8, n8 = n rounded up to a multiple of 8. It returns the
// max m of x[:n] and s = Σ e^(x-m).
//
//go:noescape
func softmaxRowAVX2(x *float32, n, n8 int) (m, s float32)

// layerNormFwdAVX2 is layerNormForward over rows whole rows of width c (a
// multiple of 8); b may be nil.
//
//go:noescape
func layerNormFwdAVX2(out, mean, rstd, in, w, b *float32, rows, c int)

// layerNormBwdAVX2 is layerNormBackwardRows over rows whole rows; acc 1
// adds to dIn, 0 writes it.
//
//go:noescape
func layerNormBwdAVX2(dIn, dOut, in, mean, rstd, w *float32, rows, c, acc int)

// layerNormColsAVX2 adds the w and b (dB may be nil) gradients of 8
// columns over rows rows; the pointers point at the first column.
//
//go:noescape
func layerNormColsAVX2(dW, dB, dOut, in, mean, rstd *float32, rows, c int)

// softmaxBwdRowAVX2 sets da[:n8] = scale·a·(da - Σ a·da), a multiple of
// 8 elements; a must be zero past the row's causal length.
//
//go:noescape
func softmaxBwdRowAVX2(da, a *float32, n8 int, scale float32)

// matVecAVX2 writes out[r] = w[r,:]·x for rows rows of width c, a multiple
// of 16.
//
//go:noescape
func matVecAVX2(out, w, x *float32, rows, c int)

// mulAVX2 writes out = a·b elementwise, n a multiple of 8.
//
//go:noescape
func mulAVX2(out, a, b *float32, n int)

// mulAddAVX2 writes out = a·b + c elementwise, n a multiple of 8.
//
//go:noescape
func mulAddAVX2(out, a, b, c *float32, n int)

// comb4x32AVX512 computes, for r < 4, out[r·ldo : r·ldo+32] (+= with acc
// 1) = Σ_{j<jn} coef[r·csi + j·csj] · m[j·ldm : j·ldm+32].
//
//go:noescape
func comb4x32AVX512(out *float32, ldo int, coef *float32, csi, csj int, m *float32, ldm, jn, acc int)

// geluForwardAVX512 is geluForwardAVX2 with 16 lanes, n a multiple of 16.
//
//go:noescape
func geluForwardAVX512(out, dg, in *float32, n int)
