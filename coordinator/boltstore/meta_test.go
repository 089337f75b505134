package boltstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
)

var metaCases = []struct {
	name string
	m    meta
}{
	{"empty", meta{}},
	{"one blob", meta{Step: 7, ConfigHash: "abc", Blobs: []blobMeta{{Name: "params", Size: 12, SHA256: sha256.Sum256([]byte("x"))}}}},
	{"all blobs", meta{Step: 1 << 40, ConfigHash: strings.Repeat("h", 64), Blobs: []blobMeta{
		{Name: "config", Size: 100}, {Name: "tokenizer"}, {Name: "params", Size: 1 << 30},
		{Name: "optim", Size: 2 << 30}, {Name: "trainer", Size: 5},
	}}},
	{"max step", meta{Step: ^uint64(0)}},
}

func TestMetaRoundTrip(t *testing.T) {
	for _, tt := range metaCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMeta(encodeMeta(&tt.m))
			if err != nil {
				t.Fatalf("decodeMeta(encodeMeta(%+v)) = %v; want nil", tt.m, err)
			}
			if !reflect.DeepEqual(*got, tt.m) {
				t.Errorf("decodeMeta(encodeMeta(m)) = %+v; want %+v", *got, tt.m)
			}
		})
	}
}

// seal appends the CRC-32C that decodeMeta checks, so that tests and the
// fuzzer reach the parser behind it.
func seal(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}

func TestMetaDecodeErrors(t *testing.T) {
	good := encodeMeta(&metaCases[1].m)
	body := good[:len(good)-4]
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", nil, "at least"},
		{"short", good[:10], "at least"},
		{"bad crc", append(append([]byte{}, body...), 0, 0, 0, 0), "crc"},
		{"flipped bit", func() []byte { b := append([]byte{}, good...); b[12] ^= 1; return b }(), "crc"},
		{"no magic", seal(append([]byte("XXXXXXXX"), body[8:]...)), "magic"},
		{"future version", seal(append(append([]byte(metaMagic), 2), body[9:]...)), "version 2"},
		{"trailing bytes", seal(append(append([]byte{}, body...), 1)), "trailing"},
		{"truncated blob", seal(body[:len(body)-5]), "truncated"},
		{"huge hash", seal(binary.AppendUvarint(append([]byte(metaMagic+"\x01"), make([]byte, 8)...), 1<<20)), "config hash"},
		{"too many blobs", seal(binary.AppendUvarint(append([]byte(metaMagic+"\x01"), make([]byte, 9)...), 1000)), "blobs"},
		{"duplicate blob", encodeMeta(&meta{Blobs: []blobMeta{{Name: "a"}, {Name: "a"}}}), "twice"},
		{"unnamed blob", encodeMeta(&meta{Blobs: []blobMeta{{Name: ""}}}), "no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMeta(tt.in)
			if !errors.Is(err, errMeta) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeMeta(%q) = %v; want an errMeta naming %q", tt.in, err, tt.want)
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, tt := range metaCases {
		b := encodeMeta(&tt.m)
		f.Add(b)
		f.Add(b[:len(b)-4]) // the fuzzer seals it below
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, seal(b)} {
			m, err := decodeMeta(in)
			if err != nil {
				if !errors.Is(err, errMeta) {
					t.Fatalf("decodeMeta(%q) = %v; want an errMeta", in, err)
				}
				continue
			}
			again, err := decodeMeta(encodeMeta(m))
			if err != nil {
				t.Fatalf("decodeMeta(encodeMeta(%+v)) = %v; want nil", m, err)
			}
			if !reflect.DeepEqual(again, m) {
				t.Fatalf("decodeMeta(encodeMeta(m)) = %+v; want %+v", again, m)
			}
		}
	})
}
