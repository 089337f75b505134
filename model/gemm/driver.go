package gemm

// problem holds the arguments of one Sgemm call.
type problem struct {
	tA, tB  bool
	m, n, k int
	alpha   float32
	a       []float32
	lda     int
	b       []float32
	ldb     int
	beta    float32
	c       []float32
	ldc     int
}

// ctx is what one goroutine needs to run the blocked algorithm: its packing
// buffers, grown to the largest block seen and then reused.
type ctx struct {
	pa, pb []float32
}

// ctxs is the free list of contexts for callers of Sgemm.
var ctxs freeList[ctx]

func getCtx() *ctx  { return ctxs.get() }
func putCtx(x *ctx) { ctxs.put(x) }

// kcBlock returns the depth of the packed blocks: k cut into the fewest
// equal blocks no deeper than kcMax. It depends on k alone, so every part of
// a threaded call sums in the same order.
func kcBlock(k, kcMax int) int {
	nb := (k + kcMax - 1) / kcMax
	return (k + nb - 1) / nb
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// block computes rows [m0,m1) and columns [n0,n1) of C; m0 and n0 are
// multiples of mr and nr, so the tiles fall on the same grid whatever the
// split.
//
// op(B) is packed kc×nc at a time into panels nr wide; rows go mc at a
// time (their A rows, mc×kc, should stay in L2). The micro-kernel
// reads op(A) where it lies (row-major or transposed, through its strides),
// except for the last tile when fewer than mr rows are left: those are
// packed with zero rows below.
func (x *ctx) block(kn *kernel, p *problem, m0, m1, n0, n1 int) {
	mr, nr := kn.mr, kn.nr
	kcb := kcBlock(p.k, kn.kc)
	// The first call on a context sizes its buffers for the largest block,
	// so that later calls, whatever their shape, never allocate.
	x.pb = grow(x.pb, kn.kc*kn.nc)
	x.pa = grow(x.pa, kn.kc*mr)
	// A's strides: op(A)(i, p) = a[i*rsa + p*csa].
	rsa, csa := p.lda, 1
	if p.tA {
		rsa, csa = 1, p.lda
	}
	mFull := m0 + (m1-m0)/mr*mr // rows [mFull, m1) are the short tile
	for jc := n0; jc < n1; jc += kn.nc {
		nb := min(kn.nc, n1-jc)
		for pc := 0; pc < p.k; pc += kcb {
			kb := min(kcb, p.k-pc)
			packB(x.pb, p.tB, p.b, p.ldb, pc, kb, jc, nb, nr)
			if mFull < m1 {
				packA(x.pa, p.tA, p.a, p.lda, mFull, m1-mFull, pc, kb, mr)
			}
			beta, load := p.beta, p.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for ic := m0; ic < m1; ic += kn.mc {
				x.panels(kn, p, ic, min(ic+kn.mc, m1), mFull, jc, nb, pc, kb, rsa, csa, beta, load)
			}
		}
	}
}

// panels computes rows [i0,i1) of the columns [jc,jc+nb) of C for the k
// block [pc,pc+kb), B packed: B panel by B panel (each stays in L1), all
// the rows' tiles (their A rows stay in L2).
func (x *ctx) panels(kn *kernel, p *problem, i0, i1, mFull, jc, nb, pc, kb, rsa, csa int, beta float32, load bool) {
	mr, nr, ldc := kn.mr, kn.nr, p.ldc
	for jr := 0; jr < nb; jr += nr {
		bp := x.pb[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		for i := i0; i < i1; i += mr {
			ci := i*ldc + jc + jr
			if i < mFull {
				kn.micro(kb, p.a[i*rsa+pc*csa:], rsa, csa, bp, p.c[ci:], ldc, p.alpha, beta, mr, cols, load)
			} else {
				kn.micro(kb, x.pa, 1, mr, bp, p.c[ci:], ldc, p.alpha, beta, i1-i, cols, load)
			}
		}
	}
}
