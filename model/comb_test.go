package model

import (
	"math/rand/v2"
	"testing"
)

func TestComb4(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512: attention uses gemm only")
	}
	rng := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct{ csi, csj, jn, hs int }{
		{64, 1, 7, 32}, {1, 64, 60, 32}, {64, 1, 0, 32}, {70, 1, 33, 64},
	} {
		const ldo, ldm = 100, 130
		coef := randSlice(rng, 80*80, 1)
		m := randSlice(rng, 80*ldm, 1)
		for _, acc := range []bool{false, true} {
			got := randSlice(rng, 4*ldo, 1)
			want := append([]float32(nil), got...)
			comb4(got, ldo, coef, tc.csi, tc.csj, m, ldm, tc.jn, tc.hs, acc)
			comb4Go(want, ldo, coef, tc.csi, tc.csj, m, ldm, tc.jn, tc.hs, acc)
			near(t, "comb4", got, want, 1e-5)
		}
	}
}
