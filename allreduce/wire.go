package allreduce

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"
)

// This file converts between float32 buffers and wire payloads
// (little-endian float32, bfloat16 or float16). On little-endian machines with
// aligned payloads the bytes are viewed in place; elsewhere they are decoded
// with encoding/binary, with the same results.

// littleEndian reports whether this machine stores float32 as the wire does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// bytesOf views x as bytes (native order).
func bytesOf(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// float32sOf views p as float32s when p is 4-aligned and the machine is
// little-endian.
func float32sOf(p []byte) ([]float32, bool) {
	if len(p) == 0 {
		return nil, littleEndian
	}
	if !littleEndian || uintptr(unsafe.Pointer(&p[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&p[0])), len(p)/4), true
}

// uint16sOf views p as little-endian uint16s when possible.
func uint16sOf(p []byte) ([]uint16, bool) {
	if len(p) == 0 {
		return nil, littleEndian
	}
	if !littleEndian || uintptr(unsafe.Pointer(&p[0]))%2 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&p[0])), len(p)/2), true
}

// toBFloat16 rounds f to bfloat16, to nearest, ties to even; NaN stays NaN.
func toBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// fromBFloat16 widens a bfloat16 exactly.
func fromBFloat16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// toFloat16 rounds f to IEEE binary16, to nearest, ties to even, with
// subnormals; beyond the range it gives ±Inf; NaN gives a quiet NaN. (The
// branch-light method of F. Giesen's float_to_half_fast3_rtne: subnormals
// are rounded by the FPU adding a magic number.)
func toFloat16(f float32) uint16 {
	const (
		f32Inf      = 255 << 23
		f16Max      = (127 + 16) << 23 // 65536: rounds to Inf
		denormMagic = ((127 - 15) + (23 - 10) + 1) << 23
	)
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	u &^= 0x80000000
	switch {
	case u >= f16Max:
		if u > f32Inf {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case u < 113<<23: // subnormal or zero in binary16
		v := math.Float32bits(math.Float32frombits(u) + math.Float32frombits(denormMagic))
		return sign | uint16(v-denormMagic)
	}
	odd := (u >> 13) & 1
	u -= (127 - 15) << 23 // rebias the exponent (no underflow: u >= 113<<23)
	u += 0xfff + odd
	return sign | uint16(u>>13)
}

// float16Table maps every binary16 to its float32, built on first use.
var float16Table = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = fromFloat16(uint16(i))
	}
	return t
})

// fromFloat16 widens a binary16 exactly.
func fromFloat16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// encode writes src into dst (len(dst) = w.Size()*len(src)) in format w.
func encode(w Wire, dst []byte, src []float32) {
	switch w {
	case WireFloat32:
		if littleEndian {
			copy(dst, bytesOf(src))
			return
		}
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case WireBFloat16:
		if u, ok := uint16sOf(dst); ok {
			u = u[:len(src)]
			for i, v := range src {
				u[i] = toBFloat16(v)
			}
			return
		}
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], toBFloat16(v))
		}
	case WireFloat16:
		if u, ok := uint16sOf(dst); ok {
			u = u[:len(src)]
			for i, v := range src {
				u[i] = toFloat16(v)
			}
			return
		}
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], toFloat16(v))
		}
	}
}

// encodeBFloat16Exact is encode(WireBFloat16, dst, src) for values that are
// already bfloat16 (quantized): truncation then gives the same bits, cheaper.
func encodeBFloat16Exact(dst []byte, src []float32) {
	if u, ok := uint16sOf(dst); ok {
		u = u[:len(src)]
		for i, v := range src {
			u[i] = uint16(math.Float32bits(v) >> 16)
		}
		return
	}
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(math.Float32bits(v)>>16))
	}
}

// addFloat32 adds src into dst (same length), four at a time.
func addFloat32(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d, s := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// decodeAdd adds the elements of payload p (format w) into dst.
func decodeAdd(w Wire, dst []float32, p []byte) {
	switch w {
	case WireFloat32:
		if f, ok := float32sOf(p); ok {
			addFloat32(dst, f)
			return
		}
		p = p[:4*len(dst)]
		for i := range dst {
			dst[i] += math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
	case WireBFloat16:
		if u, ok := uint16sOf(p); ok {
			u = u[:len(dst)]
			for i := range dst {
				dst[i] += math.Float32frombits(uint32(u[i]) << 16)
			}
			return
		}
		for i := range dst {
			dst[i] += fromBFloat16(binary.LittleEndian.Uint16(p[2*i:]))
		}
	case WireFloat16:
		if u, ok := uint16sOf(p); ok {
			u = u[:len(dst)]
			tab := float16Table()
			for i := range dst {
				dst[i] += tab[u[i]]
			}
			return
		}
		for i := range dst {
			dst[i] += fromFloat16(binary.LittleEndian.Uint16(p[2*i:]))
		}
	}
}

// decodeCopy overwrites dst with the elements of payload p (format w).
func decodeCopy(w Wire, dst []float32, p []byte) {
	switch w {
	case WireFloat32:
		if littleEndian {
			copy(bytesOf(dst), p[:4*len(dst)])
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
	case WireBFloat16:
		if u, ok := uint16sOf(p); ok {
			u = u[:len(dst)]
			for i := range dst {
				dst[i] = math.Float32frombits(uint32(u[i]) << 16)
			}
			return
		}
		for i := range dst {
			dst[i] = fromBFloat16(binary.LittleEndian.Uint16(p[2*i:]))
		}
	case WireFloat16:
		if u, ok := uint16sOf(p); ok {
			u = u[:len(dst)]
			tab := float16Table()
			for i := range dst {
				dst[i] = tab[u[i]]
			}
			return
		}
		for i := range dst {
			dst[i] = fromFloat16(binary.LittleEndian.Uint16(p[2*i:]))
		}
	}
}

// quantize rounds x in place to the values format w can carry, so that the
// rank completing a sum holds exactly what the others will decode.
func quantize(w Wire, x []float32) {
	switch w {
	case WireBFloat16:
		for i, v := range x {
			x[i] = fromBFloat16(toBFloat16(v))
		}
	case WireFloat16:
		for i, v := range x {
			x[i] = fromFloat16(toFloat16(v))
		}
	}
}
