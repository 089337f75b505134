package model

import "math"

// expf returns e**x in float32, within about 2 ulp (Cephes' expf
// polynomial after reducing x by multiples of ln 2), for x in
// [-87.3, 88.7]; below it returns a value under 1.2e-38, above +Inf is not
// reached (x is clamped). It is the exp of the softmaxes and of tanh: about
// 4x faster than float64 math.Exp.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		round = 12582912 // 1.5·2^23: adding it rounds to an integer
	)
	if x > 88.7 {
		x = 88.7
	}
	if x < -87.3 {
		x = -87.3
	}
	z := x*log2e + round
	n := z - round
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// tanhf returns tanh(x) in float32 with an absolute error under 3e-7,
// as 1 - 2/(e^{2x}+1).
func tanhf(x float32) float32 {
	if x > 9 {
		x = 9
	}
	if x < -9 {
		x = -9
	}
	return 1 - 2/(expf(2*x)+1)
}
