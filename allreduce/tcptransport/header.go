package tcptransport

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/craftml/craft/allreduce"
)

// A frame on a connection is a fixed header of headerLen bytes followed by
// Len payload bytes. The header, little-endian:
//
//	offset size field
//	     0    2 magic   0xC7A7
//	     2    1 version 1
//	     3    1 kind    0 data, 1 abort, 2 heartbeat
//	     4    4 from    sender's rank (allreduce.Header.From)
//	     8    8 run
//	    16    8 gen
//	    24    8 step
//	    32    4 seg
//	    36    4 len     payload bytes
const (
	headerLen    = 40
	frameMagic   = 0xC7A7
	frameVersion = 1
)

// kind is a frame's kind: allreduce.KindData and KindAbort, plus the
// transport's own heartbeat.
type kind uint8

const (
	kindData           = kind(allreduce.KindData)
	kindAbort          = kind(allreduce.KindAbort)
	kindHeartbeat kind = 2
)

// maxAbortBytes is the room for an abort's payload (the Ring's reason)
// when MaxPayloadBytes is smaller.
const maxAbortBytes = 1 << 10

// ErrBadFrame: a frame header from a peer is malformed (magic, version,
// kind, or a payload longer than the limit). The connection is dropped and
// the peer counts as lost; the error names the field.
var ErrBadFrame = errors.New("tcptransport: bad frame header")

// frameHeader is a decoded header.
type frameHeader struct {
	Kind kind
	From uint32
	Run  uint64
	Gen  uint64
	Step uint64
	Seg  uint32
	Len  uint32
}

func headerOf(h allreduce.Header, n int) frameHeader {
	return frameHeader{Kind: kind(h.Kind), From: h.From, Run: h.Run, Gen: h.Gen, Step: h.Step, Seg: h.Seg, Len: uint32(n)}
}

func (h frameHeader) header() allreduce.Header {
	return allreduce.Header{Kind: allreduce.Kind(h.Kind), Run: h.Run, Gen: h.Gen, Step: h.Step, From: h.From, Seg: h.Seg}
}

// put encodes h into b.
func (h frameHeader) put(b *[headerLen]byte) {
	binary.LittleEndian.PutUint16(b[0:], frameMagic)
	b[2] = frameVersion
	b[3] = byte(h.Kind)
	binary.LittleEndian.PutUint32(b[4:], h.From)
	binary.LittleEndian.PutUint64(b[8:], h.Run)
	binary.LittleEndian.PutUint64(b[16:], h.Gen)
	binary.LittleEndian.PutUint64(b[24:], h.Step)
	binary.LittleEndian.PutUint32(b[32:], h.Seg)
	binary.LittleEndian.PutUint32(b[36:], h.Len)
}

// limits says which kinds a connection carries and how long their payloads
// may be: data connections carry data frames only, control connections
// aborts and heartbeats.
type limits struct {
	control bool
	maxData int
}

// maxLen returns the longest payload of kind k, or -1 if k is not allowed.
func (l limits) maxLen(k kind) int {
	switch {
	case !l.control && k == kindData:
		return l.maxData
	case l.control && k == kindAbort:
		return max(l.maxData, maxAbortBytes)
	case l.control && k == kindHeartbeat:
		return 0
	}
	return -1
}

// decodeHeader parses b, checking it against lim. b comes from the
// network: any bytes are possible.
func decodeHeader(b *[headerLen]byte, lim limits) (frameHeader, error) {
	if m := binary.LittleEndian.Uint16(b[0:]); m != frameMagic {
		return frameHeader{}, fmt.Errorf("%w: magic = %#04x; want %#04x", ErrBadFrame, m, frameMagic)
	}
	if b[2] != frameVersion {
		return frameHeader{}, fmt.Errorf("%w: version = %d; want %d", ErrBadFrame, b[2], frameVersion)
	}
	h := frameHeader{
		Kind: kind(b[3]),
		From: binary.LittleEndian.Uint32(b[4:]),
		Run:  binary.LittleEndian.Uint64(b[8:]),
		Gen:  binary.LittleEndian.Uint64(b[16:]),
		Step: binary.LittleEndian.Uint64(b[24:]),
		Seg:  binary.LittleEndian.Uint32(b[32:]),
		Len:  binary.LittleEndian.Uint32(b[36:]),
	}
	limit := lim.maxLen(h.Kind)
	if limit < 0 {
		conn := "data"
		if lim.control {
			conn = "control"
		}
		return frameHeader{}, fmt.Errorf("%w: kind = %d on a %s connection", ErrBadFrame, h.Kind, conn)
	}
	if uint64(h.Len) > uint64(limit) {
		return frameHeader{}, fmt.Errorf("%w: len = %d; want <= %d (kind %d)", ErrBadFrame, h.Len, limit, h.Kind)
	}
	return h, nil
}
