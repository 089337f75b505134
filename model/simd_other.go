//go:build !amd64

package model

// Variables, not constants, so tests can switch paths on every platform.
var (
	useAVX2   = false
	useAVX512 = false
)

func geluForwardAVX2(out, dg, in *float32, n int)         { panic("model: no AVX2") }
func geluBackwardAVX2(dIn, dOut, dg *float32, n, acc int) { panic("model: no AVX2") }
func expSumAVX2(x *float32, n int, m float32) float32     { panic("model: no AVX2") }

func softmaxRowAVX2(x *float32, n, n8 int) (m, s float32) { panic("model: no AVX2") }

func layerNormFwdAVX2(out, mean, rstd, in, w, b *float32, rows, c int) { panic("model: no AVX2") }
func layerNormBwdAVX2(dIn, dOut, in, mean, rstd, w *float32, rows, c, acc int) {
	panic("model: no AVX2")
}
func layerNormColsAVX2(dW, dB, dOut, in, mean, rstd *float32, rows, c int) { panic("model: no AVX2") }

func softmaxBwdRowAVX2(da, a *float32, n8 int, scale float32) { panic("model: no AVX2") }

func matVecAVX2(out, w, x *float32, rows, c int) { panic("model: no AVX2") }

func mulAVX2(out, a, b *float32, n int)       { panic("model: no AVX2") }
func mulAddAVX2(out, a, b, c *float32, n int) { panic("model: no AVX2") }

func comb4x32AVX512(out *float32, ldo int, coef *float32, csi, csj int, m *float32, ldm, jn, acc int) {
	panic("model: no AVX-512")
}

func geluForwardAVX512(out, dg, in *float32, n int) { panic("model: no AVX-512") }
