package gemm

// packA packs the rows op(A)[i0:i0+mb, p0:p0+kb] (mb <= mr: the short last
// tile) into dst as one panel of mr rows, element (r, p) at dst[p·mr + r],
// with zero rows below mb.
func packA(dst []float32, tA bool, a []float32, lda, i0, mb, p0, kb, mr int) {
	d := dst[:kb*mr]
	clear(d)
	if tA {
		// op(A)[i, p] = a[p*lda+i]: each p gives mb contiguous values.
		for p := 0; p < kb; p++ {
			o := (p0+p)*lda + i0
			src := a[o : o+mb]
			dd := d[p*mr : p*mr+len(src)]
			for r, v := range src {
				dd[r] = v
			}
		}
		return
	}
	// op(A)[i, p] = a[i*lda+p]: each row is contiguous in p.
	for r := 0; r < mb; r++ {
		o := (i0+r)*lda + p0
		src := a[o : o+kb]
		for p, v := range src {
			d[p*mr+r] = v
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
		// op(B)[p, j] = b[j*ldb+p]: each column j is contiguous in p; four
		// columns at a time make four consecutive stores per p.
		if cols < nr {
			clear(d)
		}
		c := 0
		for ; c+4 <= cols; c += 4 {
			o := (base+c)*ldb + p0
			s0 := b[o : o+kb]
			s1 := b[o+ldb : o+ldb+kb]
			s2 := b[o+2*ldb : o+2*ldb+kb]
			s3 := b[o+3*ldb : o+3*ldb+kb]
			s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
			for p := range s0 {
				dd := d[p*nr+c : p*nr+c+4 : p*nr+c+4]
				dd[0], dd[1], dd[2], dd[3] = s0[p], s1[p], s2[p], s3[p]
			}
		}
		for ; c < cols; c++ {
			o := (base+c)*ldb + p0
			for p, v := range b[o : o+kb] {
				d[p*nr+c] = v
			}
		}
	}
}
