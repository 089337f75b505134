package gemm

// kernel describes one micro-kernel and the blocking that suits it.
type kernel struct {
	name string
	id   int
	// mr×nr is the register tile: the micro-kernel computes mr rows by nr
	// columns of C from an A panel (kc×mr) and a B panel (kc×nr).
	mr, nr int
	// kc is the deepest block of k (k is cut into equal blocks no deeper:
	// a packed B panel, kc×nr, should stay in L1); nc, a multiple of nr, is
	// the widest block of op(B) packed at once (kc×nc should stay in L2);
	// mc, a multiple of mr, the most rows swept per B panel (their A rows,
	// mc×kc, should stay in L2 too).
	kc, mc, nc int
}

// Micro-kernel ids, for the switch in micro.
const (
	idGo = iota
	idAVX2
	idAVX512
)

var kernelGo = &kernel{name: "go", id: idGo, mr: 4, nr: 4, kc: 256, mc: 256, nc: 512}

// active is the kernel Sgemm uses, chosen at start-up (tests switch it).
var active = bestKernel()

// micro sets the first rows×cols of the mr×nr tile c (row stride ldc) to
// alpha*A·B + beta*C, not reading C when load is false. Element (i, p) of
// the A tile is a[i*rsa + p*csa] (all mr rows must be readable); b is a
// packed panel (kc×nr).
func (kn *kernel) micro(kc int, a []float32, rsa, csa int, b, c []float32, ldc int, alpha, beta float32, rows, cols int, load bool) {
	if kn.id == idGo {
		microGo(kc, a, rsa, csa, b, c, ldc, alpha, beta, rows, cols, load)
		return
	}
	microAsm(kn.id, kn.mr, kn.nr, kc, a, rsa, csa, b, c, ldc, alpha, beta, rows, cols, load)
}

// microGo is the portable 4×4 micro-kernel.
func microGo(kc int, a []float32, rsa, csa int, b, c []float32, ldc int, alpha, beta float32, rows, cols int, load bool) {
	var acc [4][4]float32
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:3*rsa+(kc-1)*csa+1]
	b = b[:4*kc]
	for p := 0; p < kc; p++ {
		bb := b[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		o := p * csa
		a0 := a[o]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[o+rsa]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[o+2*rsa]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[o+3*rsa]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc[0] = [4]float32{c00, c01, c02, c03}
	acc[1] = [4]float32{c10, c11, c12, c13}
	acc[2] = [4]float32{c20, c21, c22, c23}
	acc[3] = [4]float32{c30, c31, c32, c33}
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+cols]
		for j := range row {
			x := alpha * acc[i][j]
			if load {
				x += beta * row[j]
			}
			row[j] = x
		}
	}
}
