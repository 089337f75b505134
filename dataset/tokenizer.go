package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// Tokenizer maps text to token ids and back. Implementations of this
// package are immutable and safe for concurrent use.
type Tokenizer interface {
	// Encode returns the token ids of s.
	Encode(s string) []int32
	// Decode returns the text of ids. An id outside [0, VocabSize()) decodes
	// to U+FFFD.
	Decode(ids []int32) string
	// VocabSize is the number of distinct ids.
	VocabSize() int
	// Kind names the tokenizer: "char" or "bpe".
	Kind() string
	// MarshalBinary encodes the tokenizer for UnmarshalTokenizer.
	MarshalBinary() ([]byte, error)
}

// The binary encoding of a tokenizer is
//
//	"CTOK" | version byte | uvarint len(kind) | kind | payload
//
// where the payload depends on the kind (see Char and BPE).
const (
	tokMagic   = "CTOK"
	tokVersion = 1
)

func appendTokHeader(b []byte, kind string) []byte {
	b = append(b, tokMagic...)
	b = append(b, tokVersion)
	b = binary.AppendUvarint(b, uint64(len(kind)))
	return append(b, kind...)
}

// UnmarshalTokenizer decodes a tokenizer written by MarshalBinary. It
// returns an error wrapping ErrBadTokenizer, never panics, on any other
// input.
func UnmarshalTokenizer(b []byte) (Tokenizer, error) {
	if !bytes.HasPrefix(b, []byte(tokMagic)) {
		return nil, fmt.Errorf("%w: missing %q magic", ErrBadTokenizer, tokMagic)
	}
	r := reader{b: b[len(tokMagic):]}
	v := r.byte()
	if r.err == nil && v != tokVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadTokenizer, v, tokVersion)
	}
	kind := string(r.bytes(r.uvarint(16)))
	if r.err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrBadTokenizer, r.err)
	}
	var (
		t   Tokenizer
		err error
	)
	switch kind {
	case "char":
		t, err = unmarshalChar(&r)
	case "bpe":
		t, err = unmarshalBPE(&r)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrBadTokenizer, kind)
	}
	if err == nil {
		err = r.err
	}
	if err == nil && len(r.b) != 0 {
		err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadTokenizer, kind, err)
	}
	return t, nil
}

// SaveTokenizer writes t to the file path.
func SaveTokenizer(path string, t Tokenizer) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save tokenizer %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	return nil
}

// LoadTokenizer reads a tokenizer written by SaveTokenizer.
func LoadTokenizer(path string) (Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := UnmarshalTokenizer(b)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// reader decodes varints with a sticky error and never panics.
type reader struct {
	b   []byte
	err error
}

var errShort = fmt.Errorf("unexpected end of data")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// uvarint reads a minimally encoded uvarint (so each tokenizer has one
// encoding) and checks it is at most max.
func (r *reader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("bad varint")
		return 0
	}
	if n > 1 && r.b[n-1] == 0 {
		r.err = fmt.Errorf("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	if v > max {
		r.err = fmt.Errorf("value %d exceeds %d", v, max)
		return 0
	}
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}
