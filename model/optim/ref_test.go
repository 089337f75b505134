package optim

import (
	"math"
	"math/rand/v2"
)

// refAdamW is torch.optim.AdamW's single-tensor update in float64.
type refAdamW struct {
	cfg   AdamWConfig
	decay []bool
	p     []float64
	m, v  []float64
}

func newRefAdamW(cfg AdamWConfig, params []float32, groups []Group) *refAdamW {
	r := &refAdamW{cfg: cfg, decay: make([]bool, len(params)), p: make([]float64, len(params)),
		m: make([]float64, len(params)), v: make([]float64, len(params))}
	for i, x := range params {
		r.p[i] = float64(x)
	}
	for _, g := range groups {
		for i := g.Offset; i < g.Offset+g.Len; i++ {
			r.decay[i] = g.Decay
		}
	}
	return r
}

func (r *refAdamW) step(t int, lr float64, grads []float32) {
	bc1 := 1 - math.Pow(r.cfg.Beta1, float64(t))
	bc2 := 1 - math.Pow(r.cfg.Beta2, float64(t))
	for i := range r.p {
		g := float64(grads[i])
		if r.decay[i] {
			r.p[i] *= 1 - lr*r.cfg.WeightDecay
		}
		r.m[i] = r.cfg.Beta1*r.m[i] + (1-r.cfg.Beta1)*g
		r.v[i] = r.cfg.Beta2*r.v[i] + (1-r.cfg.Beta2)*g*g
		denom := math.Sqrt(r.v[i])/math.Sqrt(bc2) + r.cfg.Eps
		r.p[i] -= lr / bc1 * r.m[i] / denom
	}
}

// refSGD is torch.optim.SGD (dampening 0, not Nesterov) in float64.
type refSGD struct {
	cfg   SGDConfig
	decay []bool
	p     []float64
	buf   []float64
	t     int
}

func newRefSGD(cfg SGDConfig, params []float32, groups []Group) *refSGD {
	r := &refSGD{cfg: cfg, decay: make([]bool, len(params)), p: make([]float64, len(params)), buf: make([]float64, len(params))}
	for i, x := range params {
		r.p[i] = float64(x)
	}
	for _, g := range groups {
		for i := g.Offset; i < g.Offset+g.Len; i++ {
			r.decay[i] = g.Decay
		}
	}
	return r
}

func (r *refSGD) step(lr float64, grads []float32) {
	r.t++
	for i := range r.p {
		d := float64(grads[i])
		if r.decay[i] {
			d += r.cfg.WeightDecay * r.p[i]
		}
		if r.cfg.Momentum != 0 {
			if r.t == 1 {
				r.buf[i] = d // torch clones d_p into a fresh buffer
			} else {
				r.buf[i] = r.cfg.Momentum*r.buf[i] + d
			}
			d = r.buf[i]
		}
		r.p[i] -= lr * d
	}
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// testGroups splits n parameters into alternating decay and no-decay groups
// of odd sizes, with a gap at the end that belongs to no group.
func testGroups(n int) []Group {
	var gs []Group
	off, size, decay := 0, 5, true
	for off+size < n-3 {
		gs = append(gs, Group{Offset: off, Len: size, Decay: decay})
		off += size
		size = size*2 + 1
		decay = !decay
	}
	return gs
}
