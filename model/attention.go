package model

import (
	"math"

	"github.com/craftml/craft/model/gemm"
)

// Causal multi-head self-attention over a fused qkv projection, as nanoGPT's
// CausalSelfAttention computes it after c_attn and before c_proj:
// q, k, v = split(qkv); att = softmax(q·kᵀ/√hs with the future masked);
// att = dropout(att); y = att·v, heads side by side.

// attentionForward computes heads [lo, hi) of the (b, h) pairs (index
// b·NH+h). attd is the attention after dropout (mask, (B,NH,T,T), multiplies
// att elementwise); with mask nil attd is not written and att is used.
//
//	out: (B,T,C)  att, attd, mask: (B,NH,T,T)  qkv: (B,T,3C)
func attentionForward(out, att, attd, qkv, mask []float32, t, c, nh, lo, hi int) {
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	c3 := 3 * c
	tt := t * t
	for i := lo; i < hi; i++ {
		b, h := i/nh, i%nh
		base := b*t*c3 + h*hs
		q, k, v := qkv[base:], qkv[base+c:], qkv[base+2*c:]
		a := att[i*tt : i*tt+tt]
		// a = scale · q·kᵀ, then the causal softmax of each row in place.
		// Blocks of attnBlock rows skip the keys after their last row.
		for r0 := 0; r0 < t; r0 += attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, true, r1-r0, r1, hs, scale, q[r0*c3:], c3, k, c3, 0, a[r0*t:], t)
		}
		for r := 0; r < t; r++ {
			softmaxCausalRow(a[r*t:r*t+t], r+1)
		}
		ad := a
		if mask != nil {
			ad = attd[i*tt : i*tt+tt]
			mul(ad, a, mask[i*tt:i*tt+tt])
		}
		if combOK(hs, t) {
			// y rows i0..i0+3 = Σ_{j ≤ i0+3} ad[i0.., j]·v[j]
			for i0 := 0; i0 < t; i0 += 4 {
				comb4(out[(b*t+i0)*c+h*hs:], c, ad[i0*t:], t, 1, v, c3, i0+4, hs, false)
			}
			continue
		}
		for r0 := 0; r0 < t; r0 += attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, false, r1-r0, hs, r1, 1, ad[r0*t:], t, v, c3, 0, out[(b*t+r0)*c+h*hs:], c)
		}
	}
}

// attnBlock is the row block of attention's multiplies: a block of query
// rows only meets the keys up to its last row, which skips a quarter of
// the work at T = 2·attnBlock.
const attnBlock = 32

// softmaxCausalRow replaces row[:n] by its softmax and zeroes row[n:].
func softmaxCausalRow(row []float32, n int) {
	if n8 := (n + 7) &^ 7; useAVX2 && n8 <= len(row) {
		_ = row[n8-1]
		softmaxRowAVX2(&row[0], n, n8)
		clear(row[n8:])
		return
	}
	softmaxCausalRowGo(row, n)
}

// softmaxCausalRowGo is softmaxCausalRow in plain Go.
func softmaxCausalRowGo(row []float32, n int) {
	x := row[:n]
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	inv := 1 / expSum(x, m)
	for i := range x {
		x[i] *= inv
	}
	clear(row[n:])
}

// attentionBackward adds the qkv gradient of heads [lo, hi) to dQKV
// (beta 1) or writes it (beta 0). dAtt is scratch of the size of att,
// overwritten.
//
//	dQKV: (B,T,3C)  dAtt: (B,NH,T,T)  dOut: (B,T,C)  qkv: (B,T,3C)  att, attd, mask: (B,NH,T,T)
func attentionBackward(dQKV, dAtt, dOut, qkv, att, attd, mask []float32, t, c, nh, lo, hi int, beta float32) {
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	c3 := 3 * c
	tt := t * t
	for i := lo; i < hi; i++ {
		b, h := i/nh, i%nh
		base := b*t*c3 + h*hs
		q, k, v := qkv[base:], qkv[base+c:], qkv[base+2*c:]
		dq, dk, dv := dQKV[base:], dQKV[base+c:], dQKV[base+2*c:]
		dy := dOut[b*t*c+h*hs:]
		a := att[i*tt : i*tt+tt]
		ad := a
		if mask != nil {
			ad = attd[i*tt : i*tt+tt]
		}
		da := dAtt[i*tt : i*tt+tt]
		da = da[:len(a)]
		// y = ad·v: dad = dy·vᵀ (gemm by row blocks, each stopping at its
		// last row's key), dv += adᵀ·dy
		for r0 := 0; r0 < t; r0 += attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, true, r1-r0, r1, hs, 1, dy[r0*c:], c, v, c3, 0, da[r0*t:], t)
		}
		comb := combOK(hs, t)
		acc := beta != 0
		if comb {
			// dv rows j0..j0+3 = Σ_{r ≥ j0} ad[r, j0..j0+3]·dy[r]
			for j0 := 0; j0 < t; j0 += 4 {
				comb4(dv[j0*c3:], c3, ad[j0*t+j0:], 1, t, dy[j0*c:], c, t-j0, hs, acc)
			}
		} else {
			// by row blocks from the last, whose keys span all of dv's rows
			// (so it alone takes beta)
			bb := beta
			for r0 := (t - 1) / attnBlock * attnBlock; r0 >= 0; r0 -= attnBlock {
				r1 := min(r0+attnBlock, t)
				gemm.Sgemm(true, false, r1, hs, r1-r0, 1, ad[r0*t:], t, dy[r0*c:], c, bb, dv, c3)
				bb = 1
			}
		}
		if mask != nil {
			mul(da, da, mask[i*tt:i*tt+tt])
		}
		// softmax backward, row by row, times the scale of q·kᵀ:
		// dpre = scale · a ⊙ (da - Σ a·da)
		for r := 0; r < t; r++ {
			softmaxBackwardRow(da[r*t:r*t+t], a[r*t:r*t+t], r+1, scale)
		}
		// pre = q·kᵀ (scale folded in above): dq += dpre·k, dk += dpreᵀ·q
		if comb {
			for i0 := 0; i0 < t; i0 += 4 {
				comb4(dq[i0*c3:], c3, da[i0*t:], t, 1, k, c3, i0+4, hs, acc)
				comb4(dk[i0*c3:], c3, da[i0*t+i0:], 1, t, q[i0*c3:], c3, t-i0, hs, acc)
			}
			continue
		}
		bb := beta
		for r0 := (t - 1) / attnBlock * attnBlock; r0 >= 0; r0 -= attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, false, r1-r0, hs, r1, 1, da[r0*t:], t, k, c3, beta, dq[r0*c3:], c3)
			gemm.Sgemm(true, false, r1, hs, r1-r0, 1, da[r0*t:], t, q[r0*c3:], c3, bb, dk, c3)
			bb = 1
		}
	}
}

// softmaxBackwardRow turns da (the gradient of a softmax row a whose
// first n entries are live and the rest zero) into scale times the
// gradient of the row's input, scale·a ⊙ (da - Σ a·da), and zeroes it past
// n.
func softmaxBackwardRow(da, a []float32, n int, scale float32) {
	if n8 := (n + 7) &^ 7; useAVX2 && n8 <= len(a) && n8 <= len(da) {
		softmaxBwdRowAVX2(&da[0], &a[0], n8, scale)
		clear(da[n8:])
		return
	}
	softmaxBackwardRowGo(da, a, n, scale)
}

// softmaxBackwardRowGo is softmaxBackwardRow in plain Go.
func softmaxBackwardRowGo(da, a []float32, n int, scale float32) {
	ar := a[:n]
	dl := da[:len(ar)]
	var dot float32
	for j, x := range ar {
		dot += x * dl[j]
	}
	for j, x := range ar {
		dl[j] = (dl[j] - dot) * x * scale
	}
	clear(da[n:])
}

type attentionForwardJob struct {
	out, att, attd, qkv, mask []float32
	t, c, nh                  int
}

func (j *attentionForwardJob) run(lo, hi int) {
	attentionForward(j.out, j.att, j.attd, j.qkv, j.mask, j.t, j.c, j.nh, lo, hi)
}

type attentionBackwardJob struct {
	dQKV, dAtt, dOut, qkv, att, attd, mask []float32
	t, c, nh                               int
	beta                                   float32
}

func (j *attentionBackwardJob) run(lo, hi int) {
	attentionBackward(j.dQKV, j.dAtt, j.dOut, j.qkv, j.att, j.attd, j.mask, j.t, j.c, j.nh, lo, hi, j.beta)
}

// attentionForward runs attentionForward over the B·NH heads in parallel.
func (k *kern) attentionForward(out, att, attd, qkv, mask []float32, b, t, c, nh int) {
	k.attnFwdJob = attentionForwardJob{out, att, attd, qkv, mask, t, c, nh}
	parallel(b*nh, 1, &k.attnFwdJob)
}

// attentionBackward runs attentionBackward over the B·NH heads in parallel.
func (k *kern) attentionBackward(dQKV, dAtt, dOut, qkv, att, attd, mask []float32, b, t, c, nh int, beta float32) {
	k.attnBwdJob = attentionBackwardJob{dQKV, dAtt, dOut, qkv, att, attd, mask, t, c, nh, beta}
	parallel(b*nh, 1, &k.attnBwdJob)
}
