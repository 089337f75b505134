package grpctransport

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/craftml/craft/allreduce/grpctransport/ringpb"
)

var codecCases = []struct {
	name    string
	hdr     frameHeader
	payload []byte
}{
	{"zero", frameHeader{}, nil},
	{"abort", frameHeader{Run: 0xdeadbeefcafef00d, Generation: 3, Sender: 2, Kind: 1}, []byte("peer 2: gone")},
	{"segment", frameHeader{Run: 1, Generation: 1, Step: 7, Sender: 1, Segment: 9}, []byte{1, 2, 3, 4}},
	{"big varints", frameHeader{Run: ^uint64(0), Generation: ^uint64(0), Step: 1 << 62, Sender: ^uint32(0), Segment: ^uint32(0), Kind: ^uint32(0)}, bytes.Repeat([]byte{0xab}, 70000)},
}

func toProto(h frameHeader, payload []byte) *ringpb.Frame {
	return &ringpb.Frame{Run: h.Run, Generation: h.Generation, Step: h.Step, Sender: h.Sender, Segment: h.Segment, Kind: h.Kind, Payload: payload}
}

// split cuts b into buffers of the given sizes (cycling), as gRPC hands a
// message over in HTTP/2 frames.
func split(b []byte, sizes ...int) mem.BufferSlice {
	var out mem.BufferSlice
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), max(sizes[i%len(sizes)], 1))
		out = append(out, mem.SliceBuffer(b[:n]))
		b = b[n:]
	}
	return out
}

func TestMarshalMatchesProto(t *testing.T) {
	c := newFrameCodec()
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			f := &outFrame{bufs: mem.BufferSlice{encodeFrame(newBufPool(len(tc.payload)), tc.hdr, tc.payload)}}
			got, err := c.Marshal(f)
			if err != nil {
				t.Fatalf("Marshal(%+v) error %v", tc.hdr, err)
			}
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(toProto(tc.hdr, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Materialize(), want) {
				t.Errorf("Marshal(%+v) = %x; want proto's %x", tc.hdr, got.Materialize(), want)
			}
		})
	}
}

func TestUnmarshalProto(t *testing.T) {
	c := newFrameCodec()
	for _, tc := range codecCases {
		for _, chunk := range []int{1, 3, 16384} {
			want, err := proto.Marshal(toProto(tc.hdr, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			var f inFrame
			if err := c.Unmarshal(split(want, chunk), &f); err != nil {
				t.Fatalf("%s/%d: Unmarshal error %v", tc.name, chunk, err)
			}
			if f.hdr != tc.hdr {
				t.Errorf("%s/%d: Unmarshal header = %+v; want %+v", tc.name, chunk, f.hdr, tc.hdr)
			}
			got := make([]byte, f.payLen)
			f.copyPayload(got)
			f.release()
			if !bytes.Equal(got, tc.payload) {
				t.Errorf("%s/%d: payload = %d bytes; want %d", tc.name, chunk, len(got), len(tc.payload))
			}
		}
	}
}

func TestUnmarshalOtherMessages(t *testing.T) {
	c := newFrameCodec()
	b, err := c.Marshal(&ringpb.Closed{})
	if err != nil {
		t.Fatalf("Marshal(Closed) error %v", err)
	}
	if err := c.Unmarshal(b, &ringpb.Closed{}); err != nil {
		t.Fatalf("Unmarshal(Closed) error %v", err)
	}
}

// FuzzDecodeFrame holds the hand-written decoder to proto.Unmarshal: every
// input it accepts, proto accepts with the same fields, and the only inputs
// proto accepts that it refuses hold groups.
func FuzzDecodeFrame(f *testing.F) {
	for _, tc := range codecCases {
		b, _ := proto.Marshal(toProto(tc.hdr, tc.payload[:min(len(tc.payload), 64)]))
		f.Add(b, uint8(3))
	}
	f.Add([]byte{0x0b, 0x0c}, uint8(1))                      // a group
	f.Add([]byte{0x7a, 0x05, 1, 2}, uint8(2))                // truncated payload
	f.Add([]byte{0x0d, 1, 2, 3, 4, 0x12, 0x01, 9}, uint8(7)) // run as fixed32, generation as bytes
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var got inFrame
		err := decodeFrame(split(data, int(chunk)), &got)
		var want ringpb.Frame
		perr := proto.Unmarshal(data, &want)
		if err == nil {
			if perr != nil {
				t.Fatalf("decodeFrame(%x) accepted; proto.Unmarshal error %v", data, perr)
			}
			wh := frameHeader{want.Run, want.Generation, want.Step, want.Sender, want.Segment, want.Kind}
			if got.hdr != wh {
				t.Fatalf("decodeFrame(%x) = %+v; want %+v", data, got.hdr, wh)
			}
			if got.payLen != len(want.Payload) || !bytes.Equal(data[got.payOff:got.payOff+got.payLen], want.Payload) {
				t.Fatalf("decodeFrame(%x) payload [%d:+%d]; want %x", data, got.payOff, got.payLen, want.Payload)
			}
			return
		}
		if perr == nil && !errors.Is(err, errWireType) {
			t.Fatalf("decodeFrame(%x) error %v; proto.Unmarshal accepted it", data, err)
		}
	})
}
