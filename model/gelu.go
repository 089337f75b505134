package model

// GELU in its tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), which is
// PyTorch's GELU(approximate="tanh") and GPT-2's. (nanoGPT's nn.GELU() is the
// exact erf form; the two differ by under 1e-3. The PyTorch parity script
// builds its model with the tanh form.)

const (
	geluK = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
)

// geluForward writes GELU of elements [lo, hi) and caches its derivative
// for the backward, which then needs neither the input nor a tanh. out may
// be in itself (in place).
//
//	out, dg, in: (N)
func geluForward(out, dg, in []float32, lo, hi int) {
	if useAVX512 {
		n16 := (hi - lo) &^ 15
		if n16 > 0 {
			_, _, _ = out[lo+n16-1], dg[lo+n16-1], in[lo+n16-1]
			geluForwardAVX512(&out[lo], &dg[lo], &in[lo], n16)
		}
		lo += n16
	}
	if useAVX2 {
		n8 := (hi - lo) &^ 7
		if n8 > 0 {
			_, _, _ = out[lo+n8-1], dg[lo+n8-1], in[lo+n8-1]
			geluForwardAVX2(&out[lo], &dg[lo], &in[lo], n8)
		}
		lo += n8
	}
	geluForwardGo(out, dg, in, lo, hi)
}

// geluForwardGo is geluForward in plain Go, the reference of the AVX2
// version and its tail.
func geluForwardGo(out, dg, in []float32, lo, hi int) {
	x := in[lo:hi]
	o := out[lo:hi]
	o = o[:len(x)]
	g := dg[lo:hi]
	g = g[:len(x)]
	for i, v := range x {
		u := geluK * (v + geluA*v*v*v)
		h := tanhRational(u)
		sech2 := 1 - h*h
		if u >= tanhLimit || u <= -tanhLimit {
			sech2 = 0 // saturated: the clamped h is not quite ±1
		}
		g[i] = 0.5*(1+h) + 0.5*geluK*v*sech2*(1+3*geluA*v*v)
		o[i] = 0.5 * v * (1 + h)
	}
}

// geluBackward adds dOut·GELU'(x) of elements [lo, hi) to dIn, or with set
// writes it; dIn may be dOut (in place).
//
//	dIn, dOut, dg: (N)
func geluBackward(dIn, dOut, dg []float32, lo, hi int, set bool) {
	if useAVX2 {
		n8 := (hi - lo) &^ 7
		if n8 > 0 {
			_, _, _ = dIn[lo+n8-1], dOut[lo+n8-1], dg[lo+n8-1]
			acc := 1
			if set {
				acc = 0
			}
			geluBackwardAVX2(&dIn[lo], &dOut[lo], &dg[lo], n8, acc)
		}
		lo += n8
	}
	geluBackwardGo(dIn, dOut, dg, lo, hi, set)
}

// geluBackwardGo is geluBackward in plain Go.
func geluBackwardGo(dIn, dOut, dg []float32, lo, hi int, set bool) {
	g := dg[lo:hi]
	d := dOut[lo:hi]
	d = d[:len(g)]
	di := dIn[lo:hi]
	di = di[:len(g)]
	if set {
		for i, v := range g {
			di[i] = v * d[i]
		}
		return
	}
	for i, v := range g {
		di[i] += v * d[i]
	}
}

// elemChunk is the granularity of parallel elementwise loops: a multiple
// of the SIMD width, so the same elements take the same (SIMD or scalar)
// path whatever the split.
const elemChunk = 256

func elemChunks(n int) int { return (n + elemChunk - 1) / elemChunk }

type geluForwardJob struct {
	out, dg, in []float32
	n           int
}

func (j *geluForwardJob) run(lo, hi int) {
	geluForward(j.out, j.dg, j.in, lo*elemChunk, min(hi*elemChunk, j.n))
}

type geluBackwardJob struct {
	dIn, dOut, dg []float32
	n             int
	set           bool
}

func (j *geluBackwardJob) run(lo, hi int) {
	geluBackward(j.dIn, j.dOut, j.dg, lo*elemChunk, min(hi*elemChunk, j.n), j.set)
}

// geluForward runs geluForward over n elements in parallel.
func (k *kern) geluForward(out, dg, in []float32, n int) {
	k.geluFwdJob = geluForwardJob{out, dg, in, n}
	parallel(elemChunks(n), 16, &k.geluFwdJob)
}

// geluBackward runs geluBackward over n elements in parallel.
func (k *kern) geluBackward(dIn, dOut, dg []float32, n int, set bool) {
	k.geluBwdJob = geluBackwardJob{dIn, dOut, dg, n, set}
	parallel(elemChunks(n), 16, &k.geluBwdJob)
}
