package optim

import "math"

// ClipGlobalNorm measures the Euclidean norm of grads, summing the squares
// in float64, and, when maxNorm > 0 and the norm exceeds it, scales grads
// in place by maxNorm/(norm+1e-6), as torch.nn.utils.clip_grad_norm_ does
// (the factor is clamped to 1, and 1 is not applied). It returns the norm
// before clipping. maxNorm 0 only measures.
//
// Unlike torch, a non-finite norm (a NaN or Inf gradient) leaves grads
// unchanged: the caller sees it in the result and can skip the step.
//
// The sum runs over 16 interleaved float64 lanes combined in a fixed order,
// so the result is bitwise the same on every machine.
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

// SumSquares returns the sum of x[i]² in float64. Element i goes to lane
// i%16; the lanes are combined pairwise in a fixed tree, so the result does
// not depend on the CPU. Squares of float32 values are exact in float64.
// For a sharded sum, add the SumSquares of the shards in a fixed order.
func SumSquares(x []float32) float64 {
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

// Scale multiplies x by s in place.
func Scale(x []float32, s float32) {
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
