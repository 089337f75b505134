//go:build amd64

package model

// AVX2+FMA versions of the elementwise kernels (simd_amd64.s). Each handles
// n rounded down to a multiple of 8; callers finish the tail with the Go
// code beside it, and split work at multiples of 8 so an element's result
// never depends on the split.

//go:noescape
func geluForwardAVX2(out, th, in *float32, n int)

//go:noescape
func geluBackwardAVX2(dIn, dOut, in, th *float32, n, acc int) // acc 0: dIn = …, 1: dIn += …

// expSumAVX2 replaces x[i] by e^(x[i]-m) for i < n (a multiple of 8) and
// returns their sum.
//
//go:noescape
func expSumAVX2(x *float32, n int, m float32) float32

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// useAVX2 reports whether the CPU and OS support AVX2 and FMA.
var useAVX2 = detectAVX2()

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
