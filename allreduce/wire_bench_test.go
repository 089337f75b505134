package allreduce

import (
	"fmt"
	"testing"
)

// BenchmarkCodec measures the per-segment work of the ring: encoding a
// segment for the wire and adding a received one (64 Ki elements).
func BenchmarkCodec(b *testing.B) {
	const n = 64 << 10
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i) * 0.37
	}
	for _, w := range []Wire{WireFloat32, WireBFloat16, WireFloat16} {
		p := bytesOf(make([]float32, n))[:w.Size()*n]
		encode(w, p, src)
		dst := make([]float32, n)
		b.Run(fmt.Sprintf("encode/%v", w), func(b *testing.B) {
			b.SetBytes(4 * n)
			for range b.N {
				encode(w, p, src)
			}
		})
		b.Run(fmt.Sprintf("decodeAdd/%v", w), func(b *testing.B) {
			b.SetBytes(4 * n)
			for range b.N {
				decodeAdd(w, dst, p)
			}
		})
	}
}
