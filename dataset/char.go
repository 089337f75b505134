package dataset

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// AdditionVocab is the vocabulary of the addition task, in id order: the
// digit d has id d, '+' is 10 and '=' is 11.
const AdditionVocab = "0123456789+="

// Char is a character-level tokenizer: one id per rune of its vocabulary.
type Char struct {
	runes []rune         // id -> rune
	ids   map[rune]int32 // rune -> id
	ascii [128]int32     // fast path: ASCII rune -> id, -1 when absent
}

// NewChar returns the char tokenizer of corpus: its vocabulary is the
// sorted distinct runes of corpus, the order nanoGPT's
// sorted(list(set(data))) gives. Invalid UTF-8 bytes count as U+FFFD.
func NewChar(corpus string) *Char {
	seen := map[rune]bool{}
	var ascii [128]bool
	for _, r := range corpus {
		if r < 128 {
			ascii[r] = true
			continue
		}
		seen[r] = true
	}
	runes := make([]rune, 0, len(seen)+128)
	for r, ok := range ascii {
		if ok {
			runes = append(runes, rune(r))
		}
	}
	for r := range seen {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	c, _ := newCharVocab(runes)
	return c
}

// NewCharVocab returns the char tokenizer whose id i is the i-th rune of
// vocab; it fails if a rune repeats or vocab is not valid UTF-8.
func NewCharVocab(vocab string) (*Char, error) {
	if !utf8.ValidString(vocab) {
		return nil, fmt.Errorf("%w: vocabulary is not valid UTF-8", ErrConfig)
	}
	return newCharVocab([]rune(vocab))
}

// AdditionTokenizer returns the fixed tokenizer of the addition task over
// AdditionVocab.
func AdditionTokenizer() *Char {
	c, _ := NewCharVocab(AdditionVocab)
	return c
}

func newCharVocab(runes []rune) (*Char, error) {
	c := &Char{runes: runes, ids: make(map[rune]int32, len(runes))}
	for i := range c.ascii {
		c.ascii[i] = -1
	}
	for i, r := range runes {
		if _, dup := c.ids[r]; dup {
			return nil, fmt.Errorf("%w: rune %q repeats in the vocabulary", ErrConfig, r)
		}
		c.ids[r] = int32(i)
		if r >= 0 && r < 128 {
			c.ascii[r] = int32(i)
		}
	}
	return c, nil
}

// Kind returns "char".
func (c *Char) Kind() string { return "char" }

// VocabSize is the number of runes of the vocabulary.
func (c *Char) VocabSize() int { return len(c.runes) }

// Vocab returns the vocabulary as a string, in id order.
func (c *Char) Vocab() string { return string(c.runes) }

func (c *Char) id(r rune) (int32, bool) {
	if r >= 0 && r < 128 {
		id := c.ascii[r]
		return id, id >= 0
	}
	id, ok := c.ids[r]
	return id, ok
}

// Encode returns the ids of the runes of s, dropping runes outside the
// vocabulary; use EncodeStrict to have them reported.
func (c *Char) Encode(s string) []int32 {
	ids := make([]int32, 0, len(s))
	for _, r := range s {
		if id, ok := c.id(r); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// EncodeStrict is Encode but fails, wrapping ErrUnknownRune, on the first
// rune outside the vocabulary, naming it and its byte offset.
func (c *Char) EncodeStrict(s string) ([]int32, error) {
	ids := make([]int32, 0, len(s))
	for off, r := range s {
		id, ok := c.id(r)
		if !ok {
			return nil, fmt.Errorf("%w: %q at byte %d", ErrUnknownRune, r, off)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Decode returns the runes of ids; an id out of range decodes to U+FFFD.
func (c *Char) Decode(ids []int32) string {
	var b strings.Builder
	b.Grow(len(ids))
	for _, id := range ids {
		if id < 0 || int(id) >= len(c.runes) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(c.runes[id])
	}
	return b.String()
}

// MarshalBinary encodes the tokenizer: after the common header, the number
// of runes then each rune, as uvarints.
func (c *Char) MarshalBinary() ([]byte, error) {
	b := appendTokHeader(nil, c.Kind())
	b = binary.AppendUvarint(b, uint64(len(c.runes)))
	for _, r := range c.runes {
		b = binary.AppendUvarint(b, uint64(r))
	}
	return b, nil
}

func unmarshalChar(r *reader) (*Char, error) {
	n := r.uvarint(utf8.MaxRune + 1)
	if r.err != nil {
		return nil, r.err
	}
	if n > uint64(len(r.b)) { // each rune takes at least one byte
		return nil, errShort
	}
	runes := make([]rune, n)
	for i := range runes {
		v := r.uvarint(utf8.MaxRune)
		if r.err != nil {
			return nil, r.err
		}
		if !utf8.ValidRune(rune(v)) {
			return nil, fmt.Errorf("rune %d: %#x is not a valid rune", i, v)
		}
		runes[i] = rune(v)
	}
	return newCharVocab(runes)
}
