package gemm

// packA packs op(A)[i0:i0+mb, p0:p0+kb] into dst as panels of mr rows:
// panel q holds rows i0+q·mr…, with element (r, p) at dst[q·mr·kb + p·mr + r].
// Rows past mb are zeros.
func packA(dst []float32, tA bool, a []float32, lda, i0, mb, p0, kb, mr int) {
	for q := 0; q*mr < mb; q++ {
		d := dst[q*mr*kb : (q+1)*mr*kb]
		rows := min(mr, mb-q*mr)
		base := i0 + q*mr
		if tA {
			// op(A)[i, p] = a[p*lda+i]: each p gives rows contiguous values.
			for p := 0; p < kb; p++ {
				o := (p0+p)*lda + base
				dd := d[p*mr : p*mr+mr]
				copy(dd, a[o:o+rows])
				clear(dd[rows:])
			}
			continue
		}
		// op(A)[i, p] = a[i*lda+p]: each row is contiguous in p.
		for r := 0; r < rows; r++ {
			o := (base+r)*lda + p0
			src := a[o : o+kb]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for p := 0; p < kb; p++ {
				d[p*mr+r] = 0
			}
		}
	}
}

// packB packs op(B)[p0:p0+kb, j0:j0+nb] into dst as panels of nr columns:
// panel q holds columns j0+q·nr…, with element (p, c) at
// dst[q·nr·kb + p·nr + c]. Columns past nb are zeros.
func packB(dst []float32, tB bool, b []float32, ldb, p0, kb, j0, nb, nr int) {
	for q := 0; q*nr < nb; q++ {
		d := dst[q*nr*kb : (q+1)*nr*kb]
		cols := min(nr, nb-q*nr)
		base := j0 + q*nr
		if !tB {
			// op(B)[p, j] = b[p*ldb+j]: each p gives cols contiguous values.
			for p := 0; p < kb; p++ {
				o := (p0+p)*ldb + base
				dd := d[p*nr : p*nr+nr]
				copy(dd, b[o:o+cols])
				clear(dd[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb+p]: each column j is contiguous in p.
		for c := 0; c < cols; c++ {
			o := (base+c)*ldb + p0
			src := b[o : o+kb]
			for p, v := range src {
				d[p*nr+c] = v
			}
		}
		for c := cols; c < nr; c++ {
			for p := 0; p < kb; p++ {
				d[p*nr+c] = 0
			}
		}
	}
}
