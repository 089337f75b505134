package gemm

// A call with at most gemvMax rows of C and B transposed (a linear layer
// applied to a few tokens, as in generation with a KV cache), or at most
// gemvMax columns of C and A untransposed, is a set of dot products over
// contiguous rows: packing the other operand would cost as much as the
// products, so these calls skip the blocked path.

// gemvMax is the most rows (or columns) of C computed as dot products.
const gemvMax = 4

// gemv handles m <= gemvMax with transB, and n <= gemvMax without transA;
// it reports whether it did.
func gemv(kn *kernel, p *problem) bool {
	switch {
	case p.m <= gemvMax && p.tB:
		// C[i,j] = x_i·B[j,:], x_i = op(A) row i.
		x := getCtx()
		for i := 0; i < p.m; i++ {
			v := vector(x, p.a, i, p.tA, p.lda, p.k)
			dots(kn.id, p.k, v, p.b, p.ldb, p.n, p.alpha, p.beta, p.c[i*p.ldc:], 1)
		}
		putCtx(x)
		return true
	case p.n <= gemvMax && !p.tA:
		// C[i,j] = A[i,:]·y_j, y_j = op(B) column j.
		x := getCtx()
		for j := 0; j < p.n; j++ {
			v := vector(x, p.b, j, !p.tB, p.ldb, p.k)
			dots(kn.id, p.k, v, p.a, p.lda, p.m, p.alpha, p.beta, p.c[j:], p.ldc)
		}
		putCtx(x)
		return true
	}
	return false
}

// vector returns vector i of s: the k elements s[i*ld+p] or, if strided,
// s[p*ld+i], gathered then into x's buffer.
func vector(x *ctx, s []float32, i int, strided bool, ld, k int) []float32 {
	if !strided {
		return s[i*ld : i*ld+k]
	}
	x.pa = grow(x.pa, k)
	v := x.pa[:k]
	for p := range v {
		v[p] = s[p*ld+i]
	}
	return v
}

// dots sets out[j*ldo] = alpha·(x·w_j) + beta·out[j*ldo], not reading out
// when beta == 0, for the cnt rows w_j = w[j*ldw : j*ldw+k]. Each sum runs
// in a fixed order: the assembly kernel over the largest multiple of its
// step (four rows at a time), then the rest one by one.
func dots(id, k int, x, w []float32, ldw, cnt int, alpha, beta float32, out []float32, ldo int) {
	x = x[:k]
	kv := 0
	if st := dotStep(id); st > 0 {
		kv = k &^ (st - 1)
	}
	var s [4]float32
	for j := 0; j < cnt; j += 4 {
		rows := min(4, cnt-j)
		if kv > 0 && rows == 4 {
			dot4(id, kv, x, w[j*ldw:], ldw, &s)
		}
		for r := 0; r < rows; r++ {
			o := (j + r) * ldw
			row := w[o : o+k]
			var sum float32
			if kv > 0 {
				if rows < 4 {
					dot4(id, kv, x, row, 0, &s) // four times this row
					sum = s[0]
				} else {
					sum = s[r]
				}
			}
			for p := kv; p < k; p++ {
				sum += x[p] * row[p]
			}
			y := alpha * sum
			if beta != 0 {
				y += beta * out[(j+r)*ldo]
			}
			out[(j+r)*ldo] = y
		}
	}
}
