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
	if useAVX2 && c%8 == 0 && hi > lo {
		_, _, _, _, _ = out[hi*c-1], in[hi*c-1], mean[hi-1], rstd[hi-1], w[c-1]
		var bp *float32
		if b != nil {
			_ = b[c-1]
			bp = &b[0]
		}
		layerNormFwdAVX2(&out[lo*c], &mean[lo], &rstd[lo], &in[lo*c], &w[0], bp, hi-lo, c)
		return
	}
	layerNormForwardGo(out, mean, rstd, in, w, b, c, lo, hi)
}

// layerNormForwardGo is layerNormForward in plain Go.
func layerNormForwardGo(out, mean, rstd, in, w, b []float32, c, lo, hi int) {
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
	if useAVX2 && c%8 == 0 && hi > lo {
		_, _, _, _, _, _ = dIn[hi*c-1], dOut[hi*c-1], in[hi*c-1], mean[hi-1], rstd[hi-1], w[c-1]
		acc := 1
		if set {
			acc = 0
		}
		layerNormBwdAVX2(&dIn[lo*c], &dOut[lo*c], &in[lo*c], &mean[lo], &rstd[lo], &w[0], hi-lo, c, acc)
		return
	}
	layerNormBackwardRowsGo(dIn, dOut, in, mean, rstd, w, c, lo, hi, set)
}

// layerNormBackwardRowsGo is layerNormBackwardRows in plain Go.
func layerNormBackwardRowsGo(dIn, dOut, in, mean, rstd, w []float32, c, lo, hi int, set bool) {
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
	if useAVX2 && (hi-lo)%8 == 0 && n > 0 {
		_, _, _, _ = dOut[n*c-1], in[n*c-1], mean[n-1], rstd[n-1]
		for j := lo; j < hi; j += 8 {
			_ = dW[j+7]
			var db *float32
			if dB != nil {
				_ = dB[j+7]
				db = &dB[j]
			}
			layerNormColsAVX2(&dW[j], db, &dOut[j], &in[j], &mean[0], &rstd[0], n, c)
		}
		return
	}
	layerNormBackwardColsGo(dW, dB, dOut, in, mean, rstd, n, c, lo, hi)
}

// layerNormBackwardColsGo is layerNormBackwardCols in plain Go.
func layerNormBackwardColsGo(dW, dB, dOut, in, mean, rstd []float32, n, c, lo, hi int) {
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
