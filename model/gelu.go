package model

// GELU in its tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), which is
// PyTorch's GELU(approximate="tanh") and GPT-2's. (nanoGPT's nn.GELU() is the
// exact erf form; the two differ by under 1e-3. The PyTorch parity script
// builds its model with the tanh form.)

const (
	geluK = 0.7978845608028654 // √(2/π)
	geluA = 0.044715
)

// geluForward writes GELU of elements [lo, hi) and caches the tanh for the
// backward.
//
//	out, th, in: (N)
func geluForward(out, th, in []float32, lo, hi int) {
	x := in[lo:hi]
	o := out[lo:hi]
	o = o[:len(x)]
	t := th[lo:hi]
	t = t[:len(x)]
	for i, v := range x {
		h := tanhf(geluK * (v + geluA*v*v*v))
		t[i] = h
		o[i] = 0.5 * v * (1 + h)
	}
}

// geluBackward adds the gradient of elements [lo, hi).
//
//	dIn, dOut, in, th: (N)
func geluBackward(dIn, dOut, in, th []float32, lo, hi int) {
	x := in[lo:hi]
	d := dOut[lo:hi]
	d = d[:len(x)]
	t := th[lo:hi]
	t = t[:len(x)]
	di := dIn[lo:hi]
	di = di[:len(x)]
	for i, v := range x {
		h := t[i]
		g := 0.5*(1+h) + 0.5*v*(1-h*h)*geluK*(1+3*geluA*v*v)
		di[i] += g * d[i]
	}
}

type geluForwardJob struct{ out, th, in []float32 }

func (j *geluForwardJob) run(lo, hi int) { geluForward(j.out, j.th, j.in, lo, hi) }

type geluBackwardJob struct{ dIn, dOut, in, th []float32 }

func (j *geluBackwardJob) run(lo, hi int) { geluBackward(j.dIn, j.dOut, j.in, j.th, lo, hi) }

// geluForward runs geluForward over n elements in parallel.
func (k *kern) geluForward(out, th, in []float32, n int) {
	k.geluFwdJob = geluForwardJob{out, th, in}
	parallel(n, 4096, &k.geluFwdJob)
}

// geluBackward runs geluBackward over n elements in parallel.
func (k *kern) geluBackward(dIn, dOut, in, th []float32, n int) {
	k.geluBwdJob = geluBackwardJob{dIn, dOut, in, th}
	parallel(n, 4096, &k.geluBwdJob)
}
