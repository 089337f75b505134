package gemm

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// threads is the SetThreads value; 0 means GOMAXPROCS.
var threads atomic.Int64

// minParallelFMAs is the size m·n·k under which a call runs on the calling
// goroutine alone: below it, waking a helper costs more than it saves.
// Tests lower it to drive small shapes through the threaded path.
var minParallelFMAs = 1 << 21

// SetThreads sets how many goroutines one Sgemm call may use: n <= 0 means
// GOMAXPROCS (the default). It is safe to call at any time; calls already
// running keep their count.
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	threads.Store(int64(n))
}

// Threads reports how many goroutines one Sgemm call may use now.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Kernel names the micro-kernel Sgemm uses on this machine: "avx512",
// "avx2" or "go" (for benchmark reports).
func Kernel() string { return active.name }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices.
// op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb and ldc are the row
// strides of A, B and C as stored (A is k×m when transA, B is n×k when
// transB). With beta == 0, C is only written. Sgemm panics, with a message
// starting "gemm:", on a negative size, a stride smaller than its row or a
// slice too short: those are caller bugs.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("A", ar, ac, a, lda)
	checkMatrix("B", br, bc, b, ldb)
	checkMatrix("C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	p := problem{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
	kn := active
	if gemv(kn, &p) {
		return
	}
	if m*n*k >= minParallelFMAs {
		if t := Threads(); t > 1 {
			parallel(kn, &p, t)
			return
		}
	}
	x := getCtx()
	x.block(kn, &p, 0, m, 0, n)
	putCtx(x)
}

func checkMatrix(name string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: stride of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: %s has %d elements, want at least %d (%d×%d, stride %d)", name, len(x), need, rows, cols, ld))
	}
}

// scale sets C = beta*C; with beta == 0 it writes zeros without reading C.
func scale(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}
