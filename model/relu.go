package model

// reluForward writes max(0, x).
//
//	out, in: (N)
func reluForward(out, in []float32) {
	out = out[:len(in)]
	for i, v := range in {
		out[i] = max(v, 0)
	}
}

// reluBackward adds dOut where the output was positive.
//
//	dIn, dOut, out: (N)
func reluBackward(dIn, dOut, out []float32) {
	dOut = dOut[:len(out)]
	dIn = dIn[:len(out)]
	for i, v := range out {
		if v > 0 {
			dIn[i] += dOut[i]
		}
	}
}
