package model

// comb4 computes, for the 4 rows r < 4 and the hs columns of out,
//
//	out[r·ldo + :hs] (+)= Σ_{j<jn} coef[r·csi + j·csj] · m[j·ldm + :hs]
//
// the form of attention's products P·V, dS·K (coefficients by rows) and
// Pᵀ·dY, dSᵀ·Q (by columns), with hs a multiple of 32. It runs the AVX-512
// kernel, whose inputs are tiny and in cache, so it skips gemm's packing;
// combOK says when it applies.
func comb4(out []float32, ldo int, coef []float32, csi, csj int, m []float32, ldm, jn, hs int, acc bool) {
	if jn > 0 {
		_ = coef[3*csi+(jn-1)*csj]
		_ = m[(jn-1)*ldm+hs-1]
	}
	_ = out[3*ldo+hs-1]
	a := 0
	if acc {
		a = 1
	}
	for c0 := 0; c0 < hs; c0 += 32 {
		comb4x32AVX512(&out[c0], ldo, &coef[0], csi, csj, &m[c0], ldm, jn, a)
	}
}

// combOK reports whether comb4 serves attention with head size hs and t
// positions.
func combOK(hs, t int) bool { return useAVX512 && hs%32 == 0 && t%4 == 0 }

// comb4Go is comb4 in plain Go, its reference.
func comb4Go(out []float32, ldo int, coef []float32, csi, csj int, m []float32, ldm, jn, hs int, acc bool) {
	for r := 0; r < 4; r++ {
		o := out[r*ldo : r*ldo+hs]
		if !acc {
			clear(o)
		}
		for j := 0; j < jn; j++ {
			w := coef[r*csi+j*csj]
			mj := m[j*ldm : j*ldm+hs]
			for i, x := range mj {
				o[i] += w * x
			}
		}
	}
}
