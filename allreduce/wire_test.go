package allreduce

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// nearest rounds |x| to the nearest of the positive finite values of a
// 16-bit format (decoded by dec, in increasing order of bits up to maxBits,
// with maxBits+1 being +Inf, weighted as the next power of two for rounding)
// with ties to even: the reference for toFloat16 and toBFloat16.
func nearest(x float64, dec func(uint16) float32, maxBits uint16, infAs float64) uint16 {
	val := func(h uint16) float64 {
		if h > maxBits {
			return infAs
		}
		return float64(dec(h))
	}
	// Largest h with val(h) <= x.
	h := uint16(sort.Search(int(maxBits)+2, func(i int) bool { return val(uint16(i)) > x }) - 1)
	if h > maxBits {
		return maxBits + 1
	}
	lo, hi := x-val(h), val(h+1)-x
	if hi < lo || (hi == lo && h&1 == 1) {
		return h + 1
	}
	return h
}

func TestFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := fromFloat16(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			if !math.IsNaN(float64(f)) || toFloat16(f)&0x7c00 != 0x7c00 || toFloat16(f)&0x3ff == 0 {
				t.Fatalf("NaN %#04x: fromFloat16 = %v, back %#04x; want NaN both ways", h, f, toFloat16(f))
			}
			continue
		}
		if got := toFloat16(f); got != h {
			t.Fatalf("toFloat16(fromFloat16(%#04x) = %v) = %#04x; want %#04x", h, f, got, h)
		}
	}
}

func TestBFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := fromBFloat16(h)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(fromBFloat16(toBFloat16(f)))) {
				t.Fatalf("NaN %#04x does not stay NaN", h)
			}
			continue
		}
		if got := toBFloat16(f); got != h {
			t.Fatalf("toBFloat16(fromBFloat16(%#04x) = %v) = %#04x; want %#04x", h, f, got, h)
		}
	}
}

// TestRounding checks round-to-nearest-even against the brute-force
// reference on random values and on the edges (ties, subnormals, overflow).
func TestRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []float32{0, 1, 65504, 65519.99, 65520, 65536, 1e9, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26,
		0x1.002p0, 0x1.006p0, 0x1.001p0, 0x1.003p0, 0x1.01p0, 0x1.03p0, 0x1.008p0, 0x1.018p0, 3.4e38, 1e-40}
	for range 20000 {
		vals = append(vals, math.Float32frombits(rng.Uint32()&0x7fffffff))
		vals = append(vals, float32(rng.NormFloat64()*math.Pow(2, float64(rng.IntN(40)-25))))
	}
	for _, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		for _, neg := range []bool{false, true} {
			x := v
			if neg {
				x = -v
			}
			a := math.Abs(float64(x))
			sign := uint16(0)
			if math.Signbit(float64(x)) {
				sign = 0x8000
			}
			if got, want := toFloat16(x), sign|nearest(a, fromFloat16, 0x7bff, 65536); got != want {
				t.Fatalf("toFloat16(%g) = %#04x (%g); want %#04x (%g)", x, got, fromFloat16(got), want, fromFloat16(want))
			}
			if got, want := toBFloat16(x), sign|nearest(a, fromBFloat16, 0x7f7f, 0x1p128); got != want {
				t.Fatalf("toBFloat16(%g) = %#04x (%g); want %#04x (%g)", x, got, fromBFloat16(got), want, fromBFloat16(want))
			}
		}
	}
}

// TestCodecPaths checks that the in-place views and the portable
// encoding/binary paths (taken for misaligned payloads, and on big-endian
// machines) agree.
func TestCodecPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 257)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 100)
	}
	for _, w := range []Wire{WireFloat32, WireBFloat16, WireFloat16} {
		size := w.Size() * len(src)
		aligned := bytesOf(make([]float32, len(src)))[:size]
		odd := make([]byte, size+1)[1:]
		encode(w, aligned, src)
		encode(w, odd, src)
		if string(aligned) != string(odd) {
			t.Fatalf("%v: encode differs between aligned and misaligned payloads", w)
		}
		for _, p := range [][]byte{aligned, odd} {
			got := make([]float32, len(src))
			decodeCopy(w, got, p)
			sum := append([]float32(nil), src...)
			decodeAdd(w, sum, p)
			q := append([]float32(nil), src...)
			quantize(w, q)
			for i := range src {
				if got[i] != q[i] {
					t.Fatalf("%v: decodeCopy[%d] = %v; want the quantized %v", w, i, got[i], q[i])
				}
				if want := src[i] + q[i]; sum[i] != want {
					t.Fatalf("%v: decodeAdd[%d] = %v; want %v", w, i, sum[i], want)
				}
			}
		}
	}
}

// TestBFloat16Exact checks the truncating encoder on every bfloat16 value
// (NaNs as quantize leaves them).
func TestBFloat16Exact(t *testing.T) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = fromBFloat16(uint16(i))
	}
	quantize(WireBFloat16, src)
	want := make([]byte, 2*len(src))
	got := make([]byte, 2*len(src))
	encode(WireBFloat16, want, src)
	encodeBFloat16Exact(got, src)
	if string(got) != string(want) {
		t.Fatalf("encodeBFloat16Exact differs from encode on quantized values")
	}
}

func FuzzFloat16(f *testing.F) {
	for _, v := range []float32{0, 1, -2.5, 65504, 65520, 0x1p-24, 0x1p-25, 1e-8} {
		f.Add(math.Float32bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint32) {
		x := math.Float32frombits(bits)
		h := toFloat16(x)
		if math.IsNaN(float64(x)) {
			if !math.IsNaN(float64(fromFloat16(h))) {
				t.Fatalf("toFloat16(NaN) = %#04x; want NaN", h)
			}
			return
		}
		y := float64(fromFloat16(h))
		if math.Abs(float64(x)) < 65520 && math.Abs(y-float64(x)) > math.Max(math.Abs(float64(x))*0x1p-11, 0x1p-25) {
			t.Fatalf("toFloat16(%g) = %g; error beyond half an ulp", x, y)
		}
		if toFloat16(float32(y)) != h {
			t.Fatalf("toFloat16 not idempotent at %g", x)
		}
	})
}

func FuzzDecodeAbort(f *testing.F) {
	f.Add(encodeAbort(make([]byte, 0, maxAbortPayload), 3, abortLost, "peer 3 lost"))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, p []byte) {
		culprit, code, reason := decodeAbort(p)
		if len(p) < 5 {
			if culprit != -1 {
				t.Fatalf("decodeAbort(%x) culprit = %d; want -1", p, culprit)
			}
			return
		}
		q := encodeAbort(make([]byte, 0, maxAbortPayload+8), culprit, code, reason)
		if len(p) <= maxAbortPayload && string(q) != string(p) {
			t.Fatalf("encodeAbort(decodeAbort(%x)) = %x", p, q)
		}
	})
}
