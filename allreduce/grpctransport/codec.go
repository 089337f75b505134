package grpctransport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// codecName is the gRPC content-subtype of the ring stream. Both ends of a
// stream force this codec; it speaks ringpb.Frame on the wire.
const codecName = "craftring"

// frameHeader is a ringpb.Frame without its payload.
type frameHeader struct {
	Run        uint64
	Generation uint64
	Step       uint64
	Sender     uint32
	Segment    uint32
	Kind       uint32
}

// maxHeaderLen bounds the encoding of a frameHeader plus the payload's tag
// and length: 9 + 2*11 + 3*6 + 1 + 10 = 60.
const maxHeaderLen = 64

// Field numbers of ringpb.Frame (ring.proto).
const (
	fieldRun        = 1
	fieldGeneration = 2
	fieldStep       = 3
	fieldSender     = 4
	fieldSegment    = 5
	fieldKind       = 6
	fieldPayload    = 15
)

// appendHeader appends the protobuf encoding of h and, when payloadLen > 0,
// the tag and length of the payload field, exactly as proto.Marshal of the
// equivalent ringpb.Frame would write them (zero fields omitted, field order).
func appendHeader(b []byte, h frameHeader, payloadLen int) []byte {
	if h.Run != 0 {
		b = protowire.AppendTag(b, fieldRun, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, h.Run)
	}
	if h.Generation != 0 {
		b = protowire.AppendTag(b, fieldGeneration, protowire.VarintType)
		b = protowire.AppendVarint(b, h.Generation)
	}
	if h.Step != 0 {
		b = protowire.AppendTag(b, fieldStep, protowire.VarintType)
		b = protowire.AppendVarint(b, h.Step)
	}
	if h.Sender != 0 {
		b = protowire.AppendTag(b, fieldSender, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(h.Sender))
	}
	if h.Segment != 0 {
		b = protowire.AppendTag(b, fieldSegment, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(h.Segment))
	}
	if h.Kind != 0 {
		b = protowire.AppendTag(b, fieldKind, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(h.Kind))
	}
	if payloadLen > 0 {
		b = protowire.AppendTag(b, fieldPayload, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(payloadLen))
	}
	return b
}

// outFrame is an encoded frame to send: either one buffer from the
// transport's pool holding header and payload, or the header and the
// caller's payload itself (zero copy); gRPC frees them once written out.
type outFrame struct {
	bufs mem.BufferSlice
}

// inFrame is a received frame. It holds a reference to gRPC's receive
// buffers until release: payload bytes are read straight out of them.
type inFrame struct {
	hdr     frameHeader
	data    mem.BufferSlice // the whole message, referenced
	keep    mem.BufferSlice // data's backing array, reused
	payOff  int             // payload offset in data
	payLen  int             // payload length
	payload bool            // whether data is held
}

// copyPayload copies the payload into dst, which must be payLen bytes.
func (f *inFrame) copyPayload(dst []byte) {
	off, rest := f.payOff, dst
	for _, b := range f.data {
		d := b.ReadOnlyData()
		if off >= len(d) {
			off -= len(d)
			continue
		}
		n := copy(rest, d[off:])
		rest, off = rest[n:], 0
		if len(rest) == 0 {
			return
		}
	}
}

// release frees the gRPC buffers the frame holds.
func (f *inFrame) release() {
	if f.payload {
		f.data.Free()
		clear(f.keep[:cap(f.keep)])
		f.data, f.payload = nil, false
	}
	f.payOff, f.payLen = 0, 0
}

// Errors of the frame decoder.
var (
	errTruncated = errors.New("grpctransport: truncated frame")
	errWireType  = errors.New("grpctransport: bad wire type in frame")
)

// frameCodec is the gRPC codec of the ring service: an outFrame is already
// encoded, an inFrame is decoded by hand and keeps referencing gRPC's
// receive buffers; any other message (Closed, the Frame of an Abort call)
// goes through the proto codec.
type frameCodec struct{ proto encoding.CodecV2 }

func newFrameCodec() *frameCodec {
	return &frameCodec{proto: encoding.GetCodecV2("proto")}
}

func (c *frameCodec) Name() string { return codecName }

func (c *frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*outFrame)
	if !ok {
		return c.proto.Marshal(v)
	}
	b := f.bufs
	f.bufs = nil // gRPC owns the references now
	return b, nil
}

func (c *frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*inFrame)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	f.release()
	if err := decodeFrame(data, f); err != nil {
		return err
	}
	if f.payLen > 0 {
		f.data = append(f.keep[:0], data...)
		f.keep = f.data[:0]
		f.data.Ref()
		f.payload = true
	}
	return nil
}

// cursor reads bytes across the buffers of a BufferSlice.
type cursor struct {
	bufs []mem.Buffer
	cur  []byte
	pos  int // offset of cur[0] in the whole message
	idx  int // next buffer
}

func (c *cursor) byte() (byte, bool) {
	for len(c.cur) == 0 {
		if c.idx == len(c.bufs) {
			return 0, false
		}
		c.cur = c.bufs[c.idx].ReadOnlyData()
		c.idx++
	}
	b := c.cur[0]
	c.cur = c.cur[1:]
	c.pos++
	return b, true
}

func (c *cursor) varint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, ok := c.byte()
		if !ok {
			return 0, errTruncated
		}
		if shift == 63 && b > 1 {
			break // the tenth byte holds only the 64th bit
		}
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("grpctransport: varint overflows 64 bits")
}

func (c *cursor) skip(n uint64, total int) error {
	if n > uint64(total-c.pos) {
		return errTruncated
	}
	for n > 0 {
		if len(c.cur) == 0 {
			c.cur = c.bufs[c.idx].ReadOnlyData()
			c.idx++
			continue
		}
		k := min(n, uint64(len(c.cur)))
		c.cur = c.cur[k:]
		c.pos += int(k)
		n -= k
	}
	return nil
}

// decodeFrame parses a ringpb.Frame out of data into f's header and
// payload position, as proto.Unmarshal would: fields in any order, the last
// occurrence of a field wins, unknown fields and fields of an unexpected wire
// type are skipped. Groups (absent from proto3) are refused.
func decodeFrame(data mem.BufferSlice, f *inFrame) error {
	total := data.Len()
	c := cursor{bufs: data}
	f.hdr = frameHeader{}
	f.payOff, f.payLen = 0, 0
	for c.pos < total {
		tag, err := c.varint()
		if err != nil {
			return err
		}
		if tag>>3 == 0 || tag>>3 > uint64(protowire.MaxValidNumber) {
			return fmt.Errorf("grpctransport: bad field number %d in frame", tag>>3)
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		switch typ {
		case protowire.VarintType:
			x, err := c.varint()
			if err != nil {
				return err
			}
			switch num {
			case fieldGeneration:
				f.hdr.Generation = x
			case fieldStep:
				f.hdr.Step = x
			case fieldSender:
				f.hdr.Sender = uint32(x)
			case fieldSegment:
				f.hdr.Segment = uint32(x)
			case fieldKind:
				f.hdr.Kind = uint32(x)
			}
		case protowire.Fixed64Type:
			var b [8]byte
			for i := range b {
				v, ok := c.byte()
				if !ok {
					return errTruncated
				}
				b[i] = v
			}
			if num == fieldRun {
				f.hdr.Run = binary.LittleEndian.Uint64(b[:])
			}
		case protowire.BytesType:
			n, err := c.varint()
			if err != nil {
				return err
			}
			start := c.pos
			if err := c.skip(n, total); err != nil {
				return err
			}
			if num == fieldPayload {
				f.payOff, f.payLen = start, int(n)
			}
		case protowire.Fixed32Type:
			if err := c.skip(4, total); err != nil {
				return err
			}
		default:
			// Groups and reserved wire types: proto3 frames never hold them.
			return errWireType
		}
	}
	return nil
}

// encodeFrame returns h and payload encoded as a ringpb.Frame in one buffer
// from pool: the one copy of the payload a Send makes.
func encodeFrame(pool *bufPool, h frameHeader, payload []byte) mem.Buffer {
	var scratch [maxHeaderLen]byte
	hdr := appendHeader(scratch[:0], h, len(payload))
	p := pool.Get(len(hdr) + len(payload))
	copy((*p)[copy(*p, hdr):], payload)
	return mem.NewBuffer(p, pool)
}

// bufPool is a mem.BufferPool of buffers of one size class: a frame of a
// payload that Send copies (below zeroCopyMin). Buffers are reused across sends,
// never freshly allocated in steady state (first touch of fresh memory is
// slow on the machines Craft runs on).
type bufPool struct {
	size int
	p    sync.Pool
}

func newBufPool(maxPayload int) *bufPool {
	return &bufPool{size: maxPayload + maxHeaderLen}
}

// Get returns a buffer of length n.
func (bp *bufPool) Get(n int) *[]byte {
	if n > bp.size {
		b := make([]byte, n)
		return &b
	}
	if p, ok := bp.p.Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, bp.size)
	return &b
}

// Put returns a buffer to the pool.
func (bp *bufPool) Put(p *[]byte) {
	if cap(*p) != bp.size {
		return
	}
	*p = (*p)[:0]
	bp.p.Put(p)
}

// recvPool is the mem.BufferPool gRPC reads frames into. Unlike gRPC's
// default pool it does not zero a buffer it hands out (gRPC overwrites it
// whole), which would cost as much as the copy of the data itself.
type recvPool struct {
	tiers [len(recvTiers)]sync.Pool
}

// recvTiers are the buffer sizes recvPool keeps: HTTP/2 frames are at most
// 16 KiB; the others serve gRPC's small messages and larger reads.
var recvTiers = [...]int{256, 4 << 10, 16 << 10, 32 << 10, 1 << 20}

func (p *recvPool) tier(n int) int {
	for i, s := range recvTiers {
		if n <= s {
			return i
		}
	}
	return -1
}

// Get returns a buffer of length n, not zeroed.
func (p *recvPool) Get(n int) *[]byte {
	i := p.tier(n)
	if i < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[i].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, recvTiers[i])
	return &b
}

// Put returns a buffer to its tier.
func (p *recvPool) Put(b *[]byte) {
	if i := p.tier(cap(*b)); i >= 0 && cap(*b) == recvTiers[i] {
		*b = (*b)[:0]
		p.tiers[i].Put(b)
	}
}
