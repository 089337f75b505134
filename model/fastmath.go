package model

import "math"

// expf returns e**x in float32, within about 2 ulp (Cephes' expf
// polynomial after reducing x by multiples of ln 2), for x in
// [-87.3, 88.7]; below it returns a value under 1.2e-38, above +Inf is not
// reached (x is clamped). It is the exp of the softmaxes' Go tails: about
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

// tanhLimit is where tanhRational clamps its argument: tanh rounds to ±1
// in float32 beyond it.
const tanhLimit = 7.90531110763549805

// tanhRational returns tanh(x) in float32 as Eigen's ptanh_float does: an
// odd rational function of degree 13/6, clamped where tanh rounds to ±1.
func tanhRational(x float32) float32 {
	const (
		a1  = 4.89352455891786e-03
		a3  = 6.37261928875436e-04
		a5  = 1.48572235717979e-05
		a7  = 5.12229709037114e-08
		a9  = -8.60467152213735e-11
		a11 = 2.00018790482477e-13
		a13 = -2.76076847742355e-16
		b0  = 4.89352518554385e-03
		b2  = 2.26843463243900e-03
		b4  = 1.18534705686654e-04
		b6  = 1.19825839466702e-06
	)
	const lim = tanhLimit
	if x > lim {
		x = lim
	}
	if x < -lim {
		x = -lim
	}
	x2 := x * x
	p := float32(a13)
	p = p*x2 + a11
	p = p*x2 + a9
	p = p*x2 + a7
	p = p*x2 + a5
	p = p*x2 + a3
	p = p*x2 + a1
	p *= x
	q := float32(b6)
	q = q*x2 + b4
	q = q*x2 + b2
	q = q*x2 + b0
	return p / q
}

// expSum replaces x[i] by e^(x[i]-m) and returns their sum.
func expSum(x []float32, m float32) float32 {
	var s float32
	i := 0
	if useAVX2 {
		i = len(x) &^ 7
		if i > 0 {
			s = expSumAVX2(&x[0], i, m)
		}
	}
	for ; i < len(x); i++ {
		e := expf(x[i] - m)
		x[i] = e
		s += e
	}
	return s
}

// mul writes out[i] = a[i]·b[i] (out may be a or b).
func mul(out, a, b []float32) {
	i := 0
	if useAVX2 {
		i = len(out) &^ 7
		if i > 0 {
			_, _ = a[i-1], b[i-1]
			mulAVX2(&out[0], &a[0], &b[0], i)
		}
	}
	a, b = a[:len(out)], b[:len(out)]
	for ; i < len(out); i++ {
		out[i] = a[i] * b[i]
	}
}

// mulAdd writes out[i] = a[i]·b[i] + c[i] (out may be any of them). With
// AVX2 the multiply-add is fused (one rounding); the Go tail rounds twice.
func mulAdd(out, a, b, c []float32) {
	i := 0
	if useAVX2 {
		i = len(out) &^ 7
		if i > 0 {
			_, _, _ = a[i-1], b[i-1], c[i-1]
			mulAddAVX2(&out[0], &a[0], &b[0], &c[0], i)
		}
	}
	a, b, c = a[:len(out)], b[:len(out)], c[:len(out)]
	for ; i < len(out); i++ {
		out[i] = a[i]*b[i] + c[i]
	}
}
