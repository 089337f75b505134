package boltstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The meta record of one checkpoint, stored under the key "meta" of the
// step's bucket:
//
//	magic    "CRFTMETA"
//	version  1 byte (metaVersion)
//	step     8 bytes, big-endian
//	hash     uvarint length, then the config hash
//	blobs    uvarint count, then per blob: uvarint name length, name,
//	         uvarint size, SHA-256 of the blob (32 bytes)
//	crc      CRC-32C of every byte before it, 4 bytes big-endian
const (
	metaMagic   = "CRFTMETA"
	metaVersion = 1

	maxHashLen  = 1 << 10
	maxBlobs    = 64
	maxNameLen  = 64
	minMetaSize = len(metaMagic) + 1 + 8 + 1 + 1 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errMeta is wrapped by every meta decoding error.
var errMeta = errors.New("bad checkpoint meta")

// meta describes a stored checkpoint: its step, config hash and the size and
// digest of each blob.
type meta struct {
	Step       uint64
	ConfigHash string
	Blobs      []blobMeta
}

type blobMeta struct {
	Name   string
	Size   uint64
	SHA256 [sha256.Size]byte
}

func (m *meta) blob(name string) (blobMeta, bool) {
	for _, b := range m.Blobs {
		if b.Name == name {
			return b, true
		}
	}
	return blobMeta{}, false
}

// encodeMeta returns the meta record of m.
func encodeMeta(m *meta) []byte {
	b := make([]byte, 0, minMetaSize+len(m.ConfigHash)+len(m.Blobs)*(maxNameLen+sha256.Size))
	b = append(b, metaMagic...)
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, m.Step)
	b = binary.AppendUvarint(b, uint64(len(m.ConfigHash)))
	b = append(b, m.ConfigHash...)
	b = binary.AppendUvarint(b, uint64(len(m.Blobs)))
	for _, bl := range m.Blobs {
		b = binary.AppendUvarint(b, uint64(len(bl.Name)))
		b = append(b, bl.Name...)
		b = binary.AppendUvarint(b, bl.Size)
		b = append(b, bl.SHA256[:]...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeMeta parses a meta record. It never panics; every error wraps errMeta.
func decodeMeta(b []byte) (*meta, error) {
	if len(b) < minMetaSize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", errMeta, len(b), minMetaSize)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: crc %08x, want %08x", errMeta, got, sum)
	}
	if !bytes.HasPrefix(body, []byte(metaMagic)) {
		return nil, fmt.Errorf("%w: no magic", errMeta)
	}
	r := metaReader{b: body[len(metaMagic):]}
	if v := r.byte(); v != metaVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errMeta, v, metaVersion)
	}
	m := &meta{Step: r.uint64()}
	m.ConfigHash = string(r.bytes(maxHashLen, "config hash"))
	n := r.uvarint()
	if r.err == nil && n > maxBlobs {
		r.fail("%d blobs, at most %d", n, maxBlobs)
	}
	for i := uint64(0); r.err == nil && i < n; i++ {
		var bl blobMeta
		bl.Name = string(r.bytes(maxNameLen, "blob name"))
		bl.Size = r.uvarint()
		copy(bl.SHA256[:], r.next(sha256.Size))
		if r.err == nil {
			if bl.Name == "" {
				r.fail("blob %d has no name", i)
			} else if _, dup := m.blob(bl.Name); dup {
				r.fail("blob %q twice", bl.Name)
			}
		}
		m.Blobs = append(m.Blobs, bl)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// metaReader reads fields off a byte slice; after the first error every read
// returns zero values and err keeps that first error.
type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errMeta, fmt.Sprintf(format, args...))
	}
}

func (r *metaReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("truncated: want %d more bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *metaReader) byte() byte {
	if v := r.next(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *metaReader) uint64() uint64 {
	if v := r.next(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) bytes(max uint64, what string) []byte {
	n := r.uvarint()
	if r.err == nil && n > max {
		r.fail("%s of %d bytes, at most %d", what, n, max)
	}
	return r.next(int(n))
}
