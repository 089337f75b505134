package model

import "math"

// padRow is the row stride of probs: V rounded up to 8, so a row's softmax
// runs in whole SIMD vectors.
func padRow(v int) int { return (v + 7) &^ 7 }

// crossEntropyForward computes, for rows [lo, hi), the softmax of the
// logits into probs and the loss -log p[target] into losses (0 where the
// target is -1, ignored; probs of such rows are not written).
//
//	probs: (N,padRow(V))  losses: (N)  logits: (N,V)  targets: (N)
func crossEntropyForward(probs []float32, losses []float64, logits []float32, targets []int32, v, lo, hi int) {
	vp := padRow(v)
	for r := lo; r < hi; r++ {
		tg := int(targets[r])
		if tg < 0 {
			losses[r] = 0
			continue
		}
		if tg >= v {
			panic("model: target out of range")
		}
		x := logits[r*v : r*v+v]
		p := probs[r*vp : r*vp+vp]
		copy(p, x)
		var m, s float32
		if useAVX2 {
			m, s = softmaxRowAVX2(&p[0], v, vp)
		} else {
			p = p[:len(x)]
			m = x[0]
			for _, z := range x[1:] {
				m = max(m, z)
			}
			s = expSum(p, m)
			inv := 1 / s
			for i := range p {
				p[i] *= inv
			}
		}
		losses[r] = math.Log(float64(s)) + float64(m) - float64(x[tg])
	}
}

// crossEntropyBackward adds scale·(probs - onehot(target)) to the logits'
// gradient of rows [lo, hi) whose target is not ignored; with set it
// writes it instead, and zeroes the rows of ignored targets.
//
//	dLogits: (N,V)  probs: (N,padRow(V))  targets: (N)
func crossEntropyBackward(dLogits, probs []float32, targets []int32, scale float32, v, lo, hi int, set bool) {
	vp := padRow(v)
	for r := lo; r < hi; r++ {
		tg := int(targets[r])
		d := dLogits[r*v : r*v+v]
		if tg < 0 {
			if set {
				clear(d)
			}
			continue
		}
		p := probs[r*vp : r*vp+v]
		d = d[:len(p)]
		if set {
			for i, x := range p {
				d[i] = scale * x
			}
		} else {
			for i, x := range p {
				d[i] += scale * x
			}
		}
		d[tg] -= scale
	}
}

// argmaxRows writes the index of the largest logit of each row (the first
// of equals).
//
//	dst: (N)  logits: (N,V)
func argmaxRows(dst []int32, logits []float32, n, v int) {
	for r := 0; r < n; r++ {
		x := logits[r*v : r*v+v]
		best := 0
		for i, z := range x {
			if z > x[best] {
				best = i
			}
		}
		dst[r] = int32(best)
	}
}

type crossEntropyForwardJob struct {
	probs   []float32
	losses  []float64
	logits  []float32
	targets []int32
	v       int
}

func (j *crossEntropyForwardJob) run(lo, hi int) {
	crossEntropyForward(j.probs, j.losses, j.logits, j.targets, j.v, lo, hi)
}

// crossEntropy runs crossEntropyForward over n rows in parallel and returns
// the sum of the losses (in row order, float64) and the number of rows not
// ignored.
func (k *kern) crossEntropy(probs []float32, losses []float64, logits []float32, targets []int32, n, v int) (sum float64, count int) {
	k.ceFwdJob = crossEntropyForwardJob{probs, losses, logits, targets, v}
	parallel(n, 32, &k.ceFwdJob)
	for r := 0; r < n; r++ {
		if targets[r] >= 0 {
			sum += losses[r]
			count++
		}
	}
	return sum, count
}

type crossEntropyBackwardJob struct {
	dLogits, probs []float32
	targets        []int32
	scale          float32
	v              int
	set            bool
}

func (j *crossEntropyBackwardJob) run(lo, hi int) {
	crossEntropyBackward(j.dLogits, j.probs, j.targets, j.scale, j.v, lo, hi, j.set)
}

// crossEntropyBackward runs crossEntropyBackward over n rows in parallel.
func (k *kern) crossEntropyBackward(dLogits, probs []float32, targets []int32, scale float32, n, v int, set bool) {
	k.ceBwdJob = crossEntropyBackwardJob{dLogits, probs, targets, scale, v, set}
	parallel(n, 32, &k.ceBwdJob)
}
