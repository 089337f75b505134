// Package gemm multiplies float32 matrices: the kernel every layer of a
// model spends its time in.
//
// All matrices are row-major. Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or its transpose, as in BLAS. With beta == 0, C is not
// read (NaNs in it do not propagate).
//
// # How it is fast
//
// Sgemm follows the Goto/BLIS scheme: op(B) is packed, kc rows by nc
// columns at a time, into column panels nr wide; op(A) is packed, mc rows by
// kc at a time, into row panels mr tall; a register-blocked micro-kernel
// computes each mr×nr tile of C from one A panel and one B panel. Packing
// buffers belong to a small free list and to the workers, grow to the largest
// shape seen, and are reused: a steady-state call allocates nothing.
//
// The micro-kernel is chosen once at start-up from the CPU's features
// (golang.org/x/sys/cpu), without cgo:
//
//   - AVX-512F: a 12×32 tile in Go assembly (24 zmm accumulators),
//   - AVX2 + FMA: a 6×16 tile in Go assembly (12 ymm accumulators),
//   - otherwise a 4×4 tile in pure Go.
//
// # Threads
//
// SetThreads(n) lets one call use n goroutines (0, the default, means
// GOMAXPROCS). A call splits C into n parts along its rows (or its columns
// when C is wider than tall), never along k, on tile boundaries, so every
// element of C is computed by the same sequence of operations whatever the
// thread count: results are bitwise identical for 1, 2 or more threads, and
// for repeated calls. Small calls run on the calling goroutine alone. Helper
// goroutines are started on first need and live for the rest of the process,
// parked on a channel between calls (tests that use goleak ignore
// "github.com/craftml/craft/model/gemm.(*worker).loop").
//
// Sgemm is safe for concurrent use by several goroutines.
//
// Reference is the plain triple loop Sgemm is tested against.
package gemm
