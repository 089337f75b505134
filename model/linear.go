package model

import "github.com/craftml/craft/model/gemm"

// linearForward computes out = in·wᵀ + bias (bias may be nil), PyTorch's
// Linear with w stored (OC,C).
//
//	out: (N,OC)  in: (N,C)  w: (OC,C)  bias: (OC)
func linearForward(out, in, w, bias []float32, n, c, oc int) {
	var beta float32
	if bias != nil {
		for r := 0; r < n; r++ {
			copy(out[r*oc:r*oc+oc], bias)
		}
		beta = 1
	}
	gemm.Sgemm(false, true, n, oc, c, 1, in, c, w, c, beta, out, oc)
}

// linearForwardVec is linearForward for one row (generation's KV-cache
// steps), without gemm's packing: a dot product per output.
//
//	out: (OC)  in: (C)  w: (OC,C)  bias: (OC)
func linearForwardVec(out, in, w, bias []float32, c, oc int) {
	if useAVX2 && c%16 == 0 {
		_, _, _ = out[oc-1], w[oc*c-1], in[c-1]
		matVecAVX2(&out[0], &w[0], &in[0], oc, c)
	} else {
		in = in[:c]
		for o := 0; o < oc; o++ {
			wr := w[o*c : o*c+c]
			wr = wr[:len(in)]
			var s float32
			for i, x := range in {
				s += x * wr[i]
			}
			out[o] = s
		}
	}
	if bias != nil {
		bias = bias[:oc]
		for o, b := range bias {
			out[o] += b
		}
	}
}

// linearForwardResidual computes out = res + in·wᵀ + bias (bias may be
// nil): a Linear whose output joins a residual stream, with the add done by
// the multiply itself (beta 1) instead of a separate pass.
//
//	out, res: (N,OC)  in: (N,C)  w: (OC,C)  bias: (OC)
func linearForwardResidual(out, res, in, w, bias []float32, n, c, oc int) {
	copy(out[:n*oc], res[:n*oc])
	if bias != nil {
		bias = bias[:oc]
		for r := 0; r < n; r++ {
			o := out[r*oc : r*oc+oc]
			o = o[:len(bias)]
			for i, v := range bias {
				o[i] += v
			}
		}
	}
	gemm.Sgemm(false, true, n, oc, c, 1, in, c, w, c, 1, out, oc)
}

// linearBackward adds the gradients of linearForward: dIn += dOut·w,
// dW += dOutᵀ·in, dBias += the column sums of dOut. dIn and dBias may be nil
// (not wanted; no bias).
//
//	dIn: (N,C)  dW: (OC,C)  dBias: (OC)  dOut: (N,OC)  in: (N,C)  w: (OC,C)
func (k *kern) linearBackward(dIn, dW, dBias, dOut, in, w []float32, n, c, oc int) {
	k.linearBackwardBeta(dIn, dW, dBias, dOut, in, w, n, c, oc, 1)
}

// linearBackwardSet is linearBackward but overwrites dIn instead of adding
// to it (the parameter gradients are still added to).
func (k *kern) linearBackwardSet(dIn, dW, dBias, dOut, in, w []float32, n, c, oc int) {
	k.linearBackwardBeta(dIn, dW, dBias, dOut, in, w, n, c, oc, 0)
}

func (k *kern) linearBackwardBeta(dIn, dW, dBias, dOut, in, w []float32, n, c, oc int, beta float32) {
	if dIn != nil {
		gemm.Sgemm(false, false, n, c, oc, 1, dOut, oc, w, c, beta, dIn, c)
	}
	gemm.Sgemm(true, false, oc, c, n, 1, dOut, oc, in, c, 1, dW, c)
	if dBias != nil {
		k.colSum(dBias, dOut, n, oc)
	}
}

// colSum adds the sums over rows of src to dst for columns [lo, hi).
//
//	dst: (C)  src: (N,C)
func colSum(dst, src []float32, n, c, lo, hi int) {
	d := dst[lo:hi]
	for r := 0; r < n; r++ {
		s := src[r*c+lo : r*c+hi]
		s = s[:len(d)]
		for i, x := range s {
			d[i] += x
		}
	}
}

// colSumJob runs colSum over chunks of colChunk columns.
type colSumJob struct {
	dst, src []float32
	n, c     int
}

func (j *colSumJob) run(lo, hi int) {
	colSum(j.dst, j.src, j.n, j.c, lo*colChunk, min(hi*colChunk, j.c))
}

// colSum adds the column sums of src to dst, in parallel over columns.
//
//	dst: (C)  src: (N,C)
func (k *kern) colSum(dst, src []float32, n, c int) {
	k.colSumJob = colSumJob{dst: dst, src: src, n: n, c: c}
	parallel(colChunks(c), 1, &k.colSumJob)
}
