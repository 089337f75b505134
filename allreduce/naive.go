package allreduce

// NaiveSum returns what a Ring with cfg leaves on every rank when rank r
// holds bufs[r] (all of one length): the specification of the result, bit
// for bit, written as plainly as possible, for tests. Element i is summed
// around the ring starting at rank (i/block) mod n, each partial sum rounded
// to the wire format as it is sent and the complete sum rounded once more;
// with one rank the buffer is unchanged.
func NaiveSum(cfg Config, bufs [][]float32) []float32 {
	n := len(bufs)
	if n == 0 {
		return nil
	}
	out := append([]float32(nil), bufs[0]...)
	if n == 1 {
		return out
	}
	q := func(v float32) float32 {
		switch cfg.Wire {
		case WireBFloat16:
			return fromBFloat16(toBFloat16(v))
		case WireFloat16:
			return fromFloat16(toFloat16(v))
		}
		return v
	}
	block := blockSize(len(out), n, cfg.SegmentBytes/cfg.Wire.Size())
	for i := range out {
		c := (i / block) % n
		acc := q(bufs[c][i])
		for j := 1; j < n; j++ {
			acc = q(bufs[(c+j)%n][i] + acc)
		}
		out[i] = acc
	}
	return out
}
