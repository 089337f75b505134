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
	if !tB {
		packBRows(dst, b, ldb, p0, kb, j0, nb, nr)
		return
	}
	for q := 0; q*nr < nb; q++ {
		d := dst[q*nr*kb : (q+1)*nr*kb]
		cols := min(nr, nb-q*nr)
		base := j0 + q*nr
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

// packBRows packs a row-major op(B) = B, reading it row by row (one
// sequential stream) and copying each row's nr-wide pieces to the panels
// as fixed-size arrays (inline moves, no memmove call per piece).
func packBRows(dst []float32, b []float32, ldb, p0, kb, j0, nb, nr int) {
	full := nb / nr // whole panels
	rest := nb - full*nr
	if rest > 0 {
		clear(dst[full*nr*kb : (full+1)*nr*kb])
	}
	for p := 0; p < kb; p++ {
		o := (p0+p)*ldb + j0
		row := b[o : o+nb]
		d := dst[p*nr:]
		switch nr {
		case 32:
			for q := 0; q < full; q++ {
				*(*[32]float32)(d[q*nr*kb:]) = *(*[32]float32)(row[q*nr:])
			}
		case 16:
			for q := 0; q < full; q++ {
				*(*[16]float32)(d[q*nr*kb:]) = *(*[16]float32)(row[q*nr:])
			}
		default:
			for q := 0; q < full; q++ {
				copy(d[q*nr*kb:q*nr*kb+nr], row[q*nr:q*nr+nr])
			}
		}
		if rest > 0 {
			copy(d[full*nr*kb:full*nr*kb+rest], row[full*nr:])
		}
	}
}
