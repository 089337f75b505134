package dataset

import (
	"fmt"
	"os"
	"unicode/utf8"
)

// Text is a language-modelling corpus: one token sequence whose first
// (1-ValFraction) of the tokens are Train and the rest Val, as nanoGPT's
// prepare.py splits Tiny Shakespeare 90/10. Sample i of a split is the
// window tokens[i : i+T+1] of that split, with x = window[:T] and
// y = window[1:], at every offset: Len = len(tokens) - T.
type Text struct {
	tok   Tokenizer
	t     int
	split [2][]int32 // Train, Val tokens
}

// OpenText reads cfg.Path and tokenizes it with the tokenizer of
// cfg.TokenizerFile if set, else with a char tokenizer of its runes
// (the file must be valid UTF-8) or a BPE trained on its bytes to
// cfg.BPEVocabSize.
func OpenText(cfg Config) (*Text, error) {
	cfg.Kind = "text"
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open text: %w", err)
	}
	var tok Tokenizer
	switch {
	case cfg.TokenizerFile != "":
		if tok, err = LoadTokenizer(cfg.TokenizerFile); err != nil {
			return nil, fmt.Errorf("open text %s: %w", cfg.Path, err)
		}
	case cfg.Tokenizer == "char":
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("open text: %w", invalidUTF8(cfg.Path, data))
		}
		tok = NewChar(string(data))
	default: // "bpe", by Validate
		if tok, err = TrainBPE(data, cfg.BPEVocabSize); err != nil {
			return nil, fmt.Errorf("open text %s: %w", cfg.Path, err)
		}
	}
	var ids []int32
	if c, ok := tok.(*Char); ok {
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("open text: %w", invalidUTF8(cfg.Path, data))
		}
		if ids, err = c.EncodeStrict(string(data)); err != nil {
			return nil, fmt.Errorf("open text %s: %w", cfg.Path, err)
		}
	} else {
		ids = tok.Encode(string(data))
	}
	t, err := NewText(ids, tok, cfg.BlockSize, cfg.ValFraction)
	if err != nil {
		return nil, fmt.Errorf("open text %s: %w", cfg.Path, err)
	}
	return t, nil
}

// invalidUTF8 names the file, line and column of the first invalid byte.
func invalidUTF8(path string, data []byte) error {
	line, col := 1, 1
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			return formatErr(path, line, col, "invalid UTF-8 byte %#x at offset %d", data[off], off)
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col += size
		}
		off += size
	}
	return nil
}

// NewText returns the text source over tokens made by tok, with T =
// blockSize tokens per sample and the last valFraction of the tokens held
// out. The source keeps tokens (callers must not modify it). Train must
// hold at least blockSize+1 tokens, and so must Val if valFraction > 0.
func NewText(tokens []int32, tok Tokenizer, blockSize int, valFraction float64) (*Text, error) {
	if blockSize < 1 {
		return nil, fmt.Errorf("%w: BlockSize: %d is not positive", ErrConfig, blockSize)
	}
	if !(valFraction >= 0 && valFraction < 1) {
		return nil, fmt.Errorf("%w: ValFraction: %v is not in [0, 1)", ErrConfig, valFraction)
	}
	v := int32(tok.VocabSize())
	for i, id := range tokens {
		if id < 0 || id >= v {
			return nil, fmt.Errorf("%w: token %d at %d is outside the vocabulary of %d", ErrFormat, id, i, v)
		}
	}
	nTrain, nVal := splitCount(len(tokens), valFraction)
	if nTrain <= blockSize {
		return nil, fmt.Errorf("%w: train split has %d tokens, need more than block size %d", ErrConfig, nTrain, blockSize)
	}
	if valFraction > 0 && nVal <= blockSize {
		return nil, fmt.Errorf("%w: val split has %d tokens, need more than block size %d", ErrConfig, nVal, blockSize)
	}
	return &Text{tok: tok, t: blockSize, split: [2][]int32{tokens[:nTrain:nTrain], tokens[nTrain:]}}, nil
}

// Kind returns "text".
func (d *Text) Kind() string { return "text" }

// Task returns LM.
func (d *Text) Task() Task { return LM }

// Len is len(tokens of s) - T, or 0 for an empty split.
func (d *Text) Len(s Split) int { return max(0, len(d.split[s])-d.t) }

// Width is T, the block size.
func (d *Text) Width() int { return d.t }

// Classes is the vocabulary size.
func (d *Text) Classes() int { return d.tok.VocabSize() }

// Tokenizer returns the tokenizer of the corpus.
func (d *Text) Tokenizer() Tokenizer { return d.tok }

// Tokens returns the tokens of split s; callers must not modify them.
func (d *Text) Tokens(s Split) []int32 { return d.split[s] }

// Sample writes x = tokens[i:i+T] and y = tokens[i+1:i+T+1] of split s.
func (d *Text) Sample(s Split, i int, x, y []int32, _ []float32) {
	checkIndex("text", s, i, d.Len(s))
	w := d.split[s][i : i+d.t+1]
	copy(x[:d.t], w)
	copy(y[:d.t], w[1:])
}
