package optim

import (
	"math"
	"sync"
)

// ClipGlobalNorm measures the Euclidean norm of grads, summing the squares
// in float64 (SumSquares), and, when maxNorm > 0 and the norm exceeds it,
// scales grads in place by maxNorm/(norm+1e-6), as
// torch.nn.utils.clip_grad_norm_ does (the factor is clamped to 1, and 1 is
// not applied). It returns the norm before clipping. maxNorm 0 only
// measures.
//
// Unlike torch, a non-finite norm (a NaN or Inf gradient) leaves grads
// unchanged: the caller sees it in the result and can skip the step.
func ClipGlobalNorm(grads []float32, maxNorm float64) (norm float64) {
	norm = math.Sqrt(SumSquares(grads))
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		Scale(grads, float32(coef))
	}
	return norm
}

// kernelBlock is the element count of one 16-lane kernel step; splits
// between goroutines fall on multiples of it.
const kernelBlock = 16

// SumBlock is the number of elements of one partial sum of SumSquares.
const SumBlock = 1 << 15

// SumSquares returns the sum of x[i]² in float64, bitwise the same on every
// machine and for every SetThreads: x is cut into blocks of SumBlock
// elements (the last may be short); within a block element i goes to
// float64 lane i%16 (squares of float32 values are exact in float64) and the
// 16 lanes are combined pairwise in a fixed tree; the block sums are added
// in order, from the first.
func SumSquares(x []float32) float64 {
	if len(x) <= SumBlock {
		return blockSumSquares(x)
	}
	nb := (len(x) + SumBlock - 1) / SumBlock
	sumMu.Lock()
	defer sumMu.Unlock()
	if cap(sumJob.partial) < nb {
		sumJob.partial = make([]float64, nb) // once per size: steady state allocates nothing
	}
	sumJob.x, sumJob.partial = x, sumJob.partial[:nb]
	parallel(len(x), SumBlock, &sumJob)
	s := 0.0
	for _, p := range sumJob.partial {
		s += p
	}
	sumJob.x = nil
	return s
}

var (
	sumMu  sync.Mutex
	sumJob sumSquaresJob
)

// sumSquaresJob computes the block sums of x over a range of whole blocks.
type sumSquaresJob struct {
	x       []float32
	partial []float64 // (blocks)
}

func (j *sumSquaresJob) run(lo, hi int) {
	for b := lo; b < hi; b += SumBlock {
		j.partial[b/SumBlock] = blockSumSquares(j.x[b:min(b+SumBlock, hi)])
	}
}

// blockSumSquares sums the squares of one block over 16 lanes.
func blockSumSquares(x []float32) float64 {
	var lanes [16]float64
	n := len(x) &^ 15
	sumSquares16(x[:n], &lanes)
	for i := n; i < len(x); i++ {
		f := float64(x[i])
		lanes[i&15] += f * f
	}
	for w := 8; w >= 1; w /= 2 {
		for j := 0; j < w; j++ {
			lanes[j] += lanes[j+w]
		}
	}
	return lanes[0]
}

// sumSquares16Go adds x[i]² into lanes[i%16]; len(x) is a multiple of 16.
func sumSquares16Go(x []float32, lanes *[16]float64) {
	for i := 0; i+16 <= len(x); i += 16 {
		for j := 0; j < 16; j++ {
			f := float64(x[i+j])
			lanes[j] += f * f
		}
	}
}

// Scale multiplies x by s in place, split over the goroutines of
// SetThreads.
func Scale(x []float32, s float32) {
	if len(x) < 2*minPerThread {
		scale(x, s)
		return
	}
	scaleMu.Lock()
	defer scaleMu.Unlock()
	scaleJob.x, scaleJob.s = x, s
	parallel(len(x), kernelBlock, &scaleJob)
	scaleJob.x = nil
}

var (
	scaleMu  sync.Mutex
	scaleJob scaleRange
)

type scaleRange struct {
	x []float32
	s float32
}

func (j *scaleRange) run(lo, hi int) { scale(j.x[lo:hi], j.s) }

// scale multiplies x by s on the caller's goroutine.
func scale(x []float32, s float32) {
	n := len(x) &^ 7
	scale8(x[:n], s)
	for i := n; i < len(x); i++ {
		x[i] *= s
	}
}

// scaleGo multiplies x by s; the portable twin of scale8.
func scaleGo(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
