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
		// a = scale · q·kᵀ, then the causal softmax of each row in place
		gemm.Sgemm(false, true, t, t, hs, scale, q, c3, k, c3, 0, a, t)
		for r := 0; r < t; r++ {
			softmaxCausalRow(a[r*t:r*t+t], r+1)
		}
		ad := a
		if mask != nil {
			ad = attd[i*tt : i*tt+tt]
			m := mask[i*tt : i*tt+tt]
			m = m[:len(a)]
			ad = ad[:len(a)]
			for j, x := range a {
				ad[j] = x * m[j]
			}
		}
		gemm.Sgemm(false, false, t, hs, t, 1, ad, t, v, c3, 0, out[b*t*c+h*hs:], c)
	}
}

// softmaxCausalRow replaces row[:n] by its softmax and zeroes row[n:].
func softmaxCausalRow(row []float32, n int) {
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
		// y = ad·v: dad = dy·vᵀ, dv += adᵀ·dy
		gemm.Sgemm(false, true, t, t, hs, 1, dy, c, v, c3, 0, da, t)
		gemm.Sgemm(true, false, t, hs, t, 1, ad, t, dy, c, beta, dv, c3)
		if mask != nil {
			m := mask[i*tt : i*tt+tt]
			m = m[:len(a)]
			for j := range da {
				da[j] *= m[j]
			}
		}
		// softmax backward, row by row: dpre = a ⊙ (da - Σ a·da)
		for r := 0; r < t; r++ {
			ar := a[r*t : r*t+r+1]
			dr := da[r*t : r*t+t]
			dl := dr[:len(ar)]
			var dot float32
			for j, x := range ar {
				dot += x * dl[j]
			}
			for j, x := range ar {
				dl[j] = x * (dl[j] - dot)
			}
			clear(dr[r+1:])
		}
		// pre = scale·q·kᵀ: dq += scale·dpre·k, dk += scale·dpreᵀ·q
		gemm.Sgemm(false, false, t, hs, t, scale, da, t, k, c3, beta, dq, c3)
		gemm.Sgemm(true, false, t, hs, t, scale, da, t, q, c3, beta, dk, c3)
	}
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
