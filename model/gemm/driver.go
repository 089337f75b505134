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
// buffers, grown to the largest block seen and then reused, and a scratch
// tile for the edges of C.
type ctx struct {
	pa, pb []float32
	tile   [maxTile]float32
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

func roundUp(x, m int) int { return (x + m - 1) / m * m }

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// block computes rows [m0,m1) and columns [n0,n1) of C; m0 and n0 are
// multiples of mr and nr, so the tiles fall on the same grid whatever the
// split.
func (x *ctx) block(kn *kernel, p *problem, m0, m1, n0, n1 int) {
	mr, nr := kn.mr, kn.nr
	kcb := kcBlock(p.k, kn.kc)
	x.pb = grow(x.pb, kcb*min(kn.nc, roundUp(n1-n0, nr)))
	x.pa = grow(x.pa, kcb*min(kn.mc, roundUp(m1-m0, mr)))
	ldc := p.ldc
	for jc := n0; jc < n1; jc += kn.nc {
		nb := min(kn.nc, n1-jc)
		for pc := 0; pc < p.k; pc += kcb {
			kb := min(kcb, p.k-pc)
			packB(x.pb, p.tB, p.b, p.ldb, pc, kb, jc, nb, nr)
			beta, load := p.beta, p.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for ic := m0; ic < m1; ic += kn.mc {
				mb := min(kn.mc, m1-ic)
				packA(x.pa, p.tA, p.a, p.lda, ic, mb, pc, kb, mr)
				for jr := 0; jr < nb; jr += nr {
					bp := x.pb[jr*kb : (jr+nr)*kb]
					nrr := min(nr, nb-jr)
					for ir := 0; ir < mb; ir += mr {
						ap := x.pa[ir*kb : (ir+mr)*kb]
						ci := (ic+ir)*ldc + jc + jr
						if mrr := min(mr, mb-ir); mrr < mr || nrr < nr {
							x.edge(kn, kb, ap, bp, p.c[ci:], ldc, mrr, nrr, p.alpha, beta, load)
							continue
						}
						kn.micro(kb, ap, bp, p.c[ci:], ldc, p.alpha, beta, load)
					}
				}
			}
		}
	}
}

// edge computes a tile cut by the border of C (mrr rows, nrr columns) in
// the scratch tile, with the same kernel and so the same arithmetic as a
// whole tile.
func (x *ctx) edge(kn *kernel, kb int, ap, bp, c []float32, ldc, mrr, nrr int, alpha, beta float32, load bool) {
	nr := kn.nr
	t := x.tile[:kn.mr*nr]
	if load {
		for i := 0; i < mrr; i++ {
			copy(t[i*nr:i*nr+nrr], c[i*ldc:i*ldc+nrr])
		}
	}
	kn.micro(kb, ap, bp, t, nr, alpha, beta, load)
	for i := 0; i < mrr; i++ {
		copy(c[i*ldc:i*ldc+nrr], t[i*nr:i*nr+nrr])
	}
}
