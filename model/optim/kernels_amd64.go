//go:build amd64 && !purego

package optim

// useAVX2 reports whether the AVX2 kernels run. They give bitwise the
// results of the Go kernels; the flag only exists for speed.
var useAVX2 = detectAVX2()

func detectAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// adamwAVX2 runs adamwGo's update on n elements, n a multiple of 8.
//
//go:noescape
func adamwAVX2(pp, gp, mp, vp *float32, n int, k *adamwConsts)

// sumSquares16AVX2 runs sumSquares16Go on n elements, n a multiple of 16.
//
//go:noescape
func sumSquares16AVX2(x *float32, n int, lanes *[16]float64)

// scale8AVX2 multiplies n elements by s, n a multiple of 8.
//
//go:noescape
func scale8AVX2(x *float32, n int, s float32)

func adamw(p, g, m, v []float32, k *adamwConsts) {
	n := len(p)
	if n8 := n &^ 7; useAVX2 && n8 > 0 {
		g, m, v = g[:n], m[:n], v[:n]
		adamwAVX2(&p[0], &g[0], &m[0], &v[0], n8, k)
		p, g, m, v = p[n8:], g[n8:], m[n8:], v[n8:]
	}
	adamwGo(p, g, m, v, k)
}

func sumSquares16(x []float32, lanes *[16]float64) {
	if useAVX2 && len(x) > 0 {
		sumSquares16AVX2(&x[0], len(x)&^15, lanes)
		return
	}
	sumSquares16Go(x, lanes)
}

func scale8(x []float32, s float32) {
	if useAVX2 && len(x) > 0 {
		scale8AVX2(&x[0], len(x)&^7, s)
		return
	}
	scaleGo(x, s)
}
