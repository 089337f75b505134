package gemm

// kernel describes one micro-kernel and the blocking that suits it.
type kernel struct {
	name string
	id   int
	// mr×nr is the register tile: the micro-kernel computes mr rows by nr
	// columns of C from an A panel (kc×mr) and a B panel (kc×nr).
	mr, nr int
	// kc is the deepest packed block (k is cut into equal blocks no
	// deeper); mc and nc are the rows of op(A) and the columns of op(B)
	// packed at once (multiples of mr and nr).
	kc, mc, nc int
}

// Micro-kernel ids, for the switch in micro.
const (
	idGo = iota
	idAVX2
	idAVX512
)

// maxTile is the largest mr·nr of any kernel: the size of the scratch tile
// edge tiles are computed in.
const maxTile = 12 * 32

var kernelGo = &kernel{name: "go", id: idGo, mr: 4, nr: 4, kc: 256, mc: 64, nc: 512}

// active is the kernel Sgemm uses, chosen at start-up (tests switch it).
var active = bestKernel()

// micro computes the tile C = alpha*A·B + beta*C (C only written, not read,
// when load is false) from the packed panels a (kc×mr) and b (kc×nr); c
// starts at the tile's first element and has row stride ldc.
func (kn *kernel) micro(kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	if kn.id == idGo {
		microGo(kc, a, b, c, ldc, alpha, beta, load)
		return
	}
	microAsm(kn.id, kc, a, b, c, ldc, alpha, beta, load)
}

// microGo is the portable 4×4 micro-kernel.
func microGo(kc int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for p := 0; p < kc; p++ {
		aa := a[4*p : 4*p+4 : 4*p+4]
		bb := b[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		a0 := aa[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := aa[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := aa[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := aa[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0:4:4], c00, c01, c02, c03, alpha, beta, load)
	storeRow4(c[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta, load)
	storeRow4(c[2*ldc:2*ldc+4:2*ldc+4], c20, c21, c22, c23, alpha, beta, load)
	storeRow4(c[3*ldc:3*ldc+4:3*ldc+4], c30, c31, c32, c33, alpha, beta, load)
}

func storeRow4(row []float32, x0, x1, x2, x3, alpha, beta float32, load bool) {
	row = row[:4]
	x0, x1, x2, x3 = alpha*x0, alpha*x1, alpha*x2, alpha*x3
	if load {
		x0 += beta * row[0]
		x1 += beta * row[1]
		x2 += beta * row[2]
		x3 += beta * row[3]
	}
	row[0], row[1], row[2], row[3] = x0, x1, x2, x3
}
