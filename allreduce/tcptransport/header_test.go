package tcptransport

import (
	"errors"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	data := limits{maxData: 1 << 20}
	control := limits{control: true, maxData: 64}
	tests := []struct {
		name string
		h    frameHeader
		lim  limits
	}{
		{"data", frameHeader{Kind: kindData, From: 3, Run: 0xc4af7, Gen: 9, Step: 1 << 40, Seg: 77, Len: 4096}, data},
		{"empty data", frameHeader{Kind: kindData}, data},
		{"largest data", frameHeader{Kind: kindData, Len: 1 << 20}, data},
		{"max fields", frameHeader{Kind: kindData, From: ^uint32(0), Run: ^uint64(0), Gen: ^uint64(0), Step: ^uint64(0), Seg: ^uint32(0)}, data},
		{"abort", frameHeader{Kind: kindAbort, From: 1, Run: 5, Gen: 2, Step: 3, Len: maxAbortBytes}, control},
		{"heartbeat", frameHeader{Kind: kindHeartbeat}, control},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b [headerLen]byte
			tc.h.put(&b)
			got, err := decodeHeader(&b, tc.lim)
			if err != nil || got != tc.h {
				t.Fatalf("decodeHeader(put(%+v)) = %+v, %v; want the same, nil", tc.h, got, err)
			}
		})
	}
}

// badHeaders are encodings decodeHeader must refuse, and the field its
// error must name.
func badHeaders() []struct {
	name  string
	b     [headerLen]byte
	lim   limits
	field string
} {
	data := limits{maxData: 1 << 20}
	control := limits{control: true, maxData: 64}
	enc := func(h frameHeader, edit func(b *[headerLen]byte)) [headerLen]byte {
		var b [headerLen]byte
		h.put(&b)
		if edit != nil {
			edit(&b)
		}
		return b
	}
	return []struct {
		name  string
		b     [headerLen]byte
		lim   limits
		field string
	}{
		{"zeros", [headerLen]byte{}, data, "magic"},
		{"bad magic", enc(frameHeader{}, func(b *[headerLen]byte) { b[0] ^= 1 }), data, "magic"},
		{"bad version", enc(frameHeader{}, func(b *[headerLen]byte) { b[2] = 2 }), data, "version"},
		{"unknown kind", enc(frameHeader{Kind: 9}, nil), data, "kind"},
		{"abort on data", enc(frameHeader{Kind: kindAbort}, nil), data, "kind"},
		{"heartbeat on data", enc(frameHeader{Kind: kindHeartbeat}, nil), data, "kind"},
		{"data on control", enc(frameHeader{Kind: kindData}, nil), control, "kind"},
		{"data too long", enc(frameHeader{Kind: kindData, Len: 1<<20 + 1}, nil), data, "len"},
		{"huge len", enc(frameHeader{Kind: kindData, Len: ^uint32(0)}, nil), data, "len"},
		{"abort too long", enc(frameHeader{Kind: kindAbort, Len: maxAbortBytes + 1}, nil), control, "len"},
		{"heartbeat with payload", enc(frameHeader{Kind: kindHeartbeat, Len: 1}, nil), control, "len"},
	}
}

func TestDecodeHeaderRefuses(t *testing.T) {
	for _, tc := range badHeaders() {
		t.Run(tc.name, func(t *testing.T) {
			h, err := decodeHeader(&tc.b, tc.lim)
			if !errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), tc.field+" =") {
				t.Fatalf("decodeHeader = %+v, %v; want ErrBadFrame naming %q", h, err, tc.field)
			}
		})
	}
}

// FuzzDecodeHeader feeds decodeHeader untrusted bytes: it must not panic,
// must refuse a payload over the limit, and what it accepts must encode
// back to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	for _, tc := range badHeaders() {
		f.Add(tc.b[:], tc.lim.control, uint32(tc.lim.maxData))
	}
	var b [headerLen]byte
	frameHeader{Kind: kindData, From: 2, Run: 7, Gen: 3, Step: 11, Seg: 5, Len: 100}.put(&b)
	f.Add(b[:], false, uint32(4096))
	frameHeader{Kind: kindAbort, Len: 10}.put(&b)
	f.Add(b[:], true, uint32(4096))
	f.Fuzz(func(t *testing.T, in []byte, control bool, maxData uint32) {
		var b [headerLen]byte
		copy(b[:], in)
		lim := limits{control: control, maxData: int(maxData % (1 << 30))}
		h, err := decodeHeader(&b, lim)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("decodeHeader error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		if limit := lim.maxLen(h.Kind); limit < 0 || int(h.Len) > limit {
			t.Fatalf("decodeHeader accepted %+v beyond the limit %d", h, limit)
		}
		var back [headerLen]byte
		h.put(&back)
		if back != b {
			t.Fatalf("put(decodeHeader(%x)) = %x; want the input", b, back)
		}
	})
}
