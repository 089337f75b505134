package model

import "math/rand/v2"

// Dropout as PyTorch's: in training, each element is zeroed with
// probability p and the others scaled by 1/(1-p). The masks are drawn per
// batch row from a PCG seeded with (Batch.Seeds[b], site), where site
// numbers the place in the network (dropoutSite), so a row's mask depends
// on its seed alone: not on the batch it is in, the thread count or the
// other rows.

// dropoutSite numbers the places dropout applies, for seeding.
func dropoutSite(layer, kind int) uint64 { return uint64(layer)*4 + uint64(kind) }

const (
	siteEmbed    = iota // after the embeddings (layer 0 only)
	siteAttn            // attention weights
	siteAttnProj        // attention's residual projection
	siteMLPProj         // the MLP's residual projection
)

// dropoutMask fills mask with 0 (probability p) or 1/(1-p), from the PCG
// seeded with (seed, site).
func dropoutMask(mask []float32, p float32, seed, site uint64) {
	var g rand.PCG
	g.Seed(seed, site)
	thr := uint32(float64(p) * (1 << 32))
	keep := 1 / (1 - p)
	for i := 0; i+1 < len(mask); i += 2 {
		u := g.Uint64()
		mask[i] = keep
		if uint32(u) < thr {
			mask[i] = 0
		}
		mask[i+1] = keep
		if uint32(u>>32) < thr {
			mask[i+1] = 0
		}
	}
	if len(mask)%2 == 1 {
		mask[len(mask)-1] = keep
		if uint32(g.Uint64()) < thr {
			mask[len(mask)-1] = 0
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
// no dropout.
//
//	out, res, x, mask: (N)
func residualForward(out, res, x, mask []float32, lo, hi int) {
	o := out[lo:hi]
	xs := x[lo:hi]
	xs = xs[:len(o)]
	switch {
	case res == nil:
		m := mask[lo:hi]
		m = m[:len(o)]
		for i, v := range xs {
			o[i] = v * m[i]
		}
	case mask == nil:
		r := res[lo:hi]
		r = r[:len(o)]
		for i, v := range xs {
			o[i] = r[i] + v
		}
	default:
		r := res[lo:hi]
		r = r[:len(o)]
		m := mask[lo:hi]
		m = m[:len(o)]
		for i, v := range xs {
			o[i] = r[i] + v*m[i]
		}
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
	m := mask[lo:hi]
	m = m[:len(d)]
	for i, v := range d {
		dx[i] += v * m[i]
	}
}

type residualJob struct {
	out, res, x, mask []float32
	backward          bool
}

func (j *residualJob) run(lo, hi int) {
	if j.backward {
		o := j.out[lo:hi]
		d := j.x[lo:hi]
		d = d[:len(o)]
		m := j.mask[lo:hi]
		m = m[:len(o)]
		for i, v := range d {
			o[i] = v * m[i]
		}
		return
	}
	residualForward(j.out, j.res, j.x, j.mask, lo, hi)
}

// residualForward runs residualForward over n elements in parallel.
func (k *kern) residualForward(out, res, x, mask []float32, n int) {
	k.residualJob = residualJob{out: out, res: res, x: x, mask: mask}
	parallel(n, 8192, &k.residualJob)
}

// residualBackwardSet writes dOut⊙mask to dX over n elements in parallel.
func (k *kern) residualBackwardSet(dX, dOut, mask []float32, n int) {
	k.residualJob = residualJob{out: dX, x: dOut, mask: mask, backward: true}
	parallel(n, 8192, &k.residualJob)
}
