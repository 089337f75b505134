package model

import "math"

// layerNormEps is PyTorch's LayerNorm default, as nanoGPT uses it.
const layerNormEps = 1e-5

// layerNormForward normalises rows [lo, hi) of in over C and applies the
// affine w, b (b may be nil: nanoGPT's LayerNorm without bias). It caches
// each row's mean and 1/std for the backward.
//
//	out: (N,C)  mean, rstd: (N)  in: (N,C)  w, b: (C)
func layerNormForward(out, mean, rstd, in, w, b []float32, c, lo, hi int) {
	w = w[:c]
	for r := lo; r < hi; r++ {
		x := in[r*c : r*c+c]
		x = x[:len(w)]
		var s float32
		for _, v := range x {
			s += v
		}
		m := s / float32(c)
		var ss float32
		for _, v := range x {
			d := v - m
			ss += d * d
		}
		rs := float32(1 / math.Sqrt(float64(ss/float32(c)+layerNormEps)))
		o := out[r*c : r*c+c]
		o = o[:len(w)]
		if b != nil {
			b := b[:len(w)]
			for i, v := range x {
				o[i] = (v-m)*rs*w[i] + b[i]
			}
		} else {
			for i, v := range x {
				o[i] = (v - m) * rs * w[i]
			}
		}
		mean[r], rstd[r] = m, rs
	}
}

// layerNormBackwardRows adds the input gradient of rows [lo, hi) to dIn,
// or with set writes it.
//
//	dIn: (N,C)  dOut: (N,C)  in: (N,C)  mean, rstd: (N)  w: (C)
func layerNormBackwardRows(dIn, dOut, in, mean, rstd, w []float32, c, lo, hi int, set bool) {
	w = w[:c]
	for r := lo; r < hi; r++ {
		x := in[r*c : r*c+c]
		x = x[:len(w)]
		d := dOut[r*c : r*c+c]
		d = d[:len(w)]
		m, rs := mean[r], rstd[r]
		var dm, dnm float32 // sums of w·dOut and w·dOut·norm
		for i, v := range x {
			wd := w[i] * d[i]
			dm += wd
			dnm += wd * (v - m) * rs
		}
		dm /= float32(c)
		dnm /= float32(c)
		di := dIn[r*c : r*c+c]
		di = di[:len(w)]
		if set {
			for i, v := range x {
				n := (v - m) * rs
				di[i] = (w[i]*d[i] - dm - n*dnm) * rs
			}
			continue
		}
		for i, v := range x {
			n := (v - m) * rs
			di[i] += (w[i]*d[i] - dm - n*dnm) * rs
		}
	}
}

// layerNormBackwardCols adds the gradients of w and b (b may be nil) for
// columns [lo, hi), summing over all N rows in order.
//
//	dW, dB: (C)  dOut, in: (N,C)  mean, rstd: (N)
func layerNormBackwardCols(dW, dB, dOut, in, mean, rstd []float32, n, c, lo, hi int) {
	dw := dW[lo:hi]
	var db []float32
	if dB != nil {
		db = dB[lo:hi]
		db = db[:len(dw)]
	}
	for r := 0; r < n; r++ {
		x := in[r*c+lo : r*c+hi]
		x = x[:len(dw)]
		d := dOut[r*c+lo : r*c+hi]
		d = d[:len(dw)]
		m, rs := mean[r], rstd[r]
		for i, v := range x {
			dw[i] += d[i] * (v - m) * rs
		}
		if db != nil {
			for i, v := range d {
				db[i] += v
			}
		}
	}
}

type layerNormForwardJob struct {
	out, mean, rstd, in, w, b []float32
	c                         int
}

func (j *layerNormForwardJob) run(lo, hi int) {
	layerNormForward(j.out, j.mean, j.rstd, j.in, j.w, j.b, j.c, lo, hi)
}

type layerNormBackwardJob struct {
	dIn, dOut, in, mean, rstd, w []float32
	c                            int
	set                          bool
}

func (j *layerNormBackwardJob) run(lo, hi int) {
	layerNormBackwardRows(j.dIn, j.dOut, j.in, j.mean, j.rstd, j.w, j.c, lo, hi, j.set)
}

type layerNormBackwardColJob struct {
	dW, dB, dOut, in, mean, rstd []float32
	n, c                         int
}

func (j *layerNormBackwardColJob) run(lo, hi int) {
	layerNormBackwardCols(j.dW, j.dB, j.dOut, j.in, j.mean, j.rstd, j.n, j.c, lo*colChunk, min(hi*colChunk, j.c))
}

// layerNormForward runs layerNormForward over n rows in parallel.
func (k *kern) layerNormForward(out, mean, rstd, in, w, b []float32, n, c int) {
	k.lnFwdJob = layerNormForwardJob{out, mean, rstd, in, w, b, c}
	parallel(n, 16, &k.lnFwdJob)
}

// layerNormBackward adds all the gradients of layerNormForward.
//
//	dIn: (N,C)  dW, dB: (C)  dOut, in: (N,C)  mean, rstd: (N)  w: (C)
func (k *kern) layerNormBackward(dIn, dW, dB, dOut, in, mean, rstd, w []float32, n, c int) {
	k.layerNormBackwardSet(dIn, dW, dB, dOut, in, mean, rstd, w, n, c, false)
}

// layerNormBackwardSet is layerNormBackward, but with set it overwrites dIn.
func (k *kern) layerNormBackwardSet(dIn, dW, dB, dOut, in, mean, rstd, w []float32, n, c int, set bool) {
	k.lnBwdJob = layerNormBackwardJob{dIn, dOut, in, mean, rstd, w, c, set}
	parallel(n, 16, &k.lnBwdJob)
	k.lnBwdColJob = layerNormBackwardColJob{dW, dB, dOut, in, mean, rstd, n, c}
	parallel(colChunks(c), 1, &k.lnBwdColJob)
}
