package model

import "math"

// Dropout as PyTorch's: in training, each element is zeroed with
// probability p and the others scaled by 1/(1-p). The masks are drawn per
// batch row from a SplitMix64 stream seeded with (Batch.Seeds[b], site),
// where site numbers the place in the network (dropoutSite), so a row's
// mask depends on its seed alone: not on the batch it is in, the thread
// count or the other rows. Each 64-bit draw decides four elements, 16 bits
// each: p is applied with a resolution of 2⁻¹⁶.

// dropoutSite numbers the places dropout applies, for seeding.
func dropoutSite(layer, kind int) uint64 { return uint64(layer)*4 + uint64(kind) }

const (
	siteEmbed    = iota // after the embeddings (layer 0 only)
	siteAttn            // attention weights
	siteAttnProj        // attention's residual projection
	siteMLPProj         // the MLP's residual projection
)

// splitmix64 advances *x and returns the next value of Vigna's SplitMix64.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// dropoutMask fills mask with 0 (probability p) or 1/(1-p), from the
// stream seeded with (seed, site).
func dropoutMask(mask []float32, p float32, seed, site uint64) {
	st := site*0xd1b54a32d192ed03 + 0x6372616674
	st = seed ^ splitmix64(&st)
	thr := int64(math.Round(float64(p) * (1 << 16)))
	keep := math.Float32bits(1 / (1 - p))
	// bits of lane j: keep if its 16-bit draw is ≥ thr, else 0 (branch-free)
	lane := func(u uint64) float32 {
		d := int64(u&0xffff) - thr
		return math.Float32frombits(keep &^ uint32(d>>63))
	}
	i := 0
	for ; i+4 <= len(mask); i += 4 {
		u := splitmix64(&st)
		m := mask[i : i+4 : i+4]
		m[0], m[1], m[2], m[3] = lane(u), lane(u>>16), lane(u>>32), lane(u>>48)
	}
	if i < len(mask) {
		u := splitmix64(&st)
		for ; i < len(mask); i++ {
			mask[i] = lane(u)
			u >>= 16
		}
	}
}

// dropoutMaskJob fills the masks of rows [lo, hi): per row n elements.
type dropoutMaskJob struct {
	mask  []float32
	seeds []uint64
	p     float32
	n     int
	site  uint64
}

func (j *dropoutMaskJob) run(lo, hi int) {
	for b := lo; b < hi; b++ {
		dropoutMask(j.mask[b*j.n:b*j.n+j.n], j.p, j.seeds[b], j.site)
	}
}

// dropoutMasks fills mask (B, n) row by row in parallel.
func (k *kern) dropoutMasks(mask []float32, seeds []uint64, p float32, b, n int, site uint64) {
	k.dropoutJob = dropoutMaskJob{mask, seeds, p, n, site}
	parallel(b, 1, &k.dropoutJob)
}

// residualForward writes out = res + x⊙mask for elements [lo, hi), the
// residual connection after a dropout; res nil means no residual, mask nil
// no dropout. Callers split at multiples of elemChunk (the SIMD path is
// fused multiply-add, the scalar tail is not).
//
//	out, res, x, mask: (N)
func residualForward(out, res, x, mask []float32, lo, hi int) {
	o := out[lo:hi]
	xs := x[lo:hi]
	xs = xs[:len(o)]
	switch {
	case res == nil:
		mul(o, xs, mask[lo:hi])
	case mask == nil:
		r := res[lo:hi]
		r = r[:len(o)]
		for i, v := range xs {
			o[i] = r[i] + v
		}
	default:
		mulAdd(o, xs, mask[lo:hi], res[lo:hi])
	}
}

// residualBackward adds dOut⊙mask (dOut if mask is nil) to dX for elements
// [lo, hi). The gradient of res is dOut itself, which callers get by
// sharing one buffer for the residual stream's gradient.
//
//	dX, dOut, mask: (N)
func residualBackward(dX, dOut, mask []float32, lo, hi int) {
	d := dOut[lo:hi]
	dx := dX[lo:hi]
	dx = dx[:len(d)]
	if mask == nil {
		for i, v := range d {
			dx[i] += v
		}
		return
	}
	mulAdd(dx, d, mask[lo:hi], dx)
}

type residualJob struct {
	out, res, x, mask []float32
	n                 int
	backward          bool
}

func (j *residualJob) run(lo, hi int) {
	lo, hi = lo*elemChunk, min(hi*elemChunk, j.n)
	if j.backward {
		mul(j.out[lo:hi], j.x[lo:hi], j.mask[lo:hi])
		return
	}
	residualForward(j.out, j.res, j.x, j.mask, lo, hi)
}

// residualForward runs residualForward over n elements in parallel.
func (k *kern) residualForward(out, res, x, mask []float32, n int) {
	k.residualJob = residualJob{out: out, res: res, x: x, mask: mask, n: n}
	parallel(elemChunks(n), 32, &k.residualJob)
}

// residualBackwardSet writes dOut⊙mask to dX over n elements in parallel.
func (k *kern) residualBackwardSet(dX, dOut, mask []float32, n int) {
	k.residualJob = residualJob{out: dX, x: dOut, mask: mask, n: n, backward: true}
	parallel(elemChunks(n), 32, &k.residualJob)
}
