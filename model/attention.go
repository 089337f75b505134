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
		// y = ad·v: dad = dy·vᵀ, dv += adᵀ·dy, by row blocks from the
		// last, whose keys span all of dv's rows (so it alone takes beta).
		bb := beta
		for r0 := (t - 1) / attnBlock * attnBlock; r0 >= 0; r0 -= attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, true, r1-r0, r1, hs, 1, dy[r0*c:], c, v, c3, 0, da[r0*t:], t)
			gemm.Sgemm(true, false, r1, hs, r1-r0, 1, ad[r0*t:], t, dy[r0*c:], c, bb, dv, c3)
			bb = 1
		}
		if mask != nil {
			mul(da, da, mask[i*tt:i*tt+tt])
		}
		// softmax backward, row by row: dpre = a ⊙ (da - Σ a·da)
		for r := 0; r < t; r++ {
			softmaxBackwardRow(da[r*t:r*t+t], a[r*t:r*t+t], r+1)
		}
		// pre = scale·q·kᵀ: dq += scale·dpre·k, dk += scale·dpreᵀ·q
		bb = beta
		for r0 := (t - 1) / attnBlock * attnBlock; r0 >= 0; r0 -= attnBlock {
			r1 := min(r0+attnBlock, t)
			gemm.Sgemm(false, false, r1-r0, hs, r1, scale, da[r0*t:], t, k, c3, beta, dq[r0*c3:], c3)
			gemm.Sgemm(true, false, r1, hs, r1-r0, scale, da[r0*t:], t, q[r0*c3:], c3, bb, dk, c3)
			bb = 1
		}
	}
}

// softmaxBackwardRow turns da (the gradient of a softmax row a whose
// first n entries are live and the rest zero) into the gradient of the
// row's input, a ⊙ (da - Σ a·da), and zeroes it past n.
func softmaxBackwardRow(da, a []float32, n int) {
	if n8 := (n + 7) &^ 7; useAVX2 && n8 <= len(a) && n8 <= len(da) {
		softmaxBwdRowAVX2(&da[0], &a[0], n8)
		clear(da[n8:])
		return
	}
	softmaxBackwardRowGo(da, a, n)
}

// softmaxBackwardRowGo is softmaxBackwardRow in plain Go.
func softmaxBackwardRowGo(da, a []float32, n int) {
	ar := a[:n]
	dl := da[:len(ar)]
	var dot float32
	for j, x := range ar {
		dot += x * dl[j]
	}
	for j, x := range ar {
		dl[j] = x * (dl[j] - dot)
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
