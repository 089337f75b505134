package allreduce

import (
	"errors"
	"fmt"
)

// This file holds the two loops of an operation: runSend feeds the ring
// successor, runRecv drains the predecessor, following the schedule of
// plan.go.

// bucketAt waits for bucket i; ok=false when there is none to come or the
// operation failed.
func (o *Op) bucketAt(i int, wake chan struct{}) (bucket, bool) {
	for {
		o.mu.Lock()
		if i < len(o.buckets) {
			b := o.buckets[i]
			o.mu.Unlock()
			return b, true
		}
		all := o.submitted == o.total
		o.mu.Unlock()
		if all {
			return bucket{}, false
		}
		select {
		case <-wake:
		case <-o.octx.done:
			return bucket{}, false
		}
	}
}

// runSend sends every message of the operation to the ring successor.
func (o *Op) runSend() {
	r, n, w := o.r, o.n, o.r.cfg.Wire
	ws := w.Size()
	h := Header{Kind: KindData, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.rank)}
	for bi := 0; ; bi++ {
		b, ok := o.bucketAt(bi, o.sendKick)
		if !ok {
			return
		}
		S := b.steps
		for k := 0; k < 2*(n-1); k++ {
			c := ((o.rank-k)%n + n) % n
			for s := 0; s < S; s++ {
				lo, hi, ok := b.segment(c, s, n, o.block)
				if !ok {
					continue
				}
				slot := b.base + int64(k*S+s)
				if k > 0 && !o.waitRecv(slot-int64(S)+1) {
					return
				}
				seg := b.buf[lo:hi]
				var payload []byte
				if w == WireFloat32 && littleEndian {
					payload = bytesOf(seg)
				} else {
					payload = bytesOf(r.sendBuf)[:ws*len(seg)]
					if k >= n-1 && w == WireBFloat16 {
						encodeBFloat16Exact(payload, seg) // final sums: already bfloat16 values
					} else {
						encode(w, payload, seg)
					}
				}
				h.Seg = uint32(slot)
				if err := r.t.Send(o.octx, o.next, h, payload); err != nil {
					o.failTransportLink(o.next, err, true)
					return
				}
			}
		}
	}
}

// waitRecv waits until the receiver has processed slot need-1.
func (o *Op) waitRecv(need int64) bool {
	for o.recvDone.Load() < need {
		select {
		case <-o.progress:
		case <-o.octx.done:
			return false
		}
	}
	return true
}

// runRecv receives every message of the operation from the ring predecessor
// and reduces (steps < n-1) or copies (later steps) it into the buffer.
func (o *Op) runRecv() {
	r, n, w := o.r, o.n, o.r.cfg.Wire
	scratch := bytesOf(r.recvBuf)
	lender, _ := r.t.(Lender)
	o.want = Header{Kind: KindData, Run: o.run, Gen: o.tag.Gen, Step: o.tag.Step, From: uint32(o.prev)}
	for bi := 0; ; bi++ {
		b, ok := o.bucketAt(bi, o.recvKick)
		if !ok {
			return
		}
		S := b.steps
		for k := 0; k < 2*(n-1); k++ {
			c := ((o.rank-1-k)%n + n) % n
			for s := 0; s < S; s++ {
				lo, hi, ok := b.segment(c, s, n, o.block)
				if !ok {
					continue
				}
				slot := b.base + int64(k*S+s)
				o.seg, o.segStep, o.want.Seg = b.buf[lo:hi], k, uint32(slot)
				var err error
				switch {
				case k >= n-1 && w == WireFloat32 && littleEndian && 4*(hi-lo) >= maxAbortPayload:
					// All-gather segments of float32 land in the buffer
					// directly (one copy less); the room fits an abort.
					dst := bytesOf(o.seg)
					var h Header
					var size int
					if h, size, err = r.t.Recv(o.octx, o.prev, dst); err == nil {
						o.direct = true
						err = o.apply(h, dst[:size])
						o.direct = false
					}
				case lender != nil:
					err = lender.RecvLend(o.octx, o.prev, o.applyFn)
				default:
					var h Header
					var size int
					if h, size, err = r.t.Recv(o.octx, o.prev, scratch); err == nil {
						err = o.apply(h, scratch[:size])
					}
				}
				if err != nil {
					if err != errStop {
						o.failTransport(o.prev, err)
					}
					return
				}
				o.recvDone.Store(slot + 1)
				kick(o.progress)
			}
		}
	}
}

// errStop: apply failed the operation itself.
var errStop = errors.New("allreduce: operation failed")

// apply checks the received message (h, p) against the slot runRecv
// expects (o.want, o.seg, o.segStep) and reduces or copies it into o.seg. It
// returns errStop after failing the operation (abort, protocol error).
func (o *Op) apply(h Header, p []byte) error {
	if h.Kind == KindAbort {
		o.failAbort(h, p)
		return errStop
	}
	w := o.r.cfg.Wire
	if want := w.Size() * len(o.seg); h != o.want || len(p) != want {
		o.fail(o.prev, abortProtocol, &PeerError{Rank: o.prev, Addr: o.peers[o.prev],
			Err: fmt.Errorf("%w: got %v with %d bytes; want %v with %d", ErrProtocol, h, len(p), o.want, want)})
		return errStop
	}
	switch k, n := o.segStep, o.n; {
	case o.direct:
	case k < n-2:
		decodeAdd(w, o.seg, p)
	case k == n-2: // the sum is complete here: round it as the others will see it
		decodeAdd(w, o.seg, p)
		quantize(w, o.seg)
	default:
		decodeCopy(w, o.seg, p)
	}
	return nil
}
