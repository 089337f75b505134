package dataset

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// the cause is one of them, so callers can test with errors.Is.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("dataset: invalid config")
	// ErrFormat reports a malformed input file (a bad CSV cell, invalid UTF-8 text).
	ErrFormat = errors.New("dataset: malformed input")
	// ErrBadTokenizer reports bytes that UnmarshalTokenizer cannot decode.
	ErrBadTokenizer = errors.New("dataset: bad tokenizer encoding")
	// ErrUnknownRune reports text holding a rune outside a char tokenizer's vocabulary.
	ErrUnknownRune = errors.New("dataset: rune not in vocabulary")
	// ErrBadManifest reports bytes that UnmarshalManifest cannot decode, or an
	// inconsistent Manifest.
	ErrBadManifest = errors.New("dataset: bad manifest")
	// ErrCorruptShard reports a shard whose length or SHA-256 differs from its manifest entry.
	ErrCorruptShard = errors.New("dataset: corrupt shard")
)

// Split names one part of a dataset.
type Split int

// The splits of every source.
const (
	Train Split = iota // the samples the model learns from
	Val                // held-out samples, disjoint from Train
)

// Splits lists every split, in order.
var Splits = [...]Split{Train, Val}

// String returns "train" or "val".
func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Val:
		return "val"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// Task is what a source's samples teach.
type Task int

// The tasks.
const (
	LM       Task = iota // next-token prediction over token sequences
	Classify             // one integer label per row of numeric features
)

// String returns "lm" or "classify".
func (t Task) String() string {
	switch t {
	case LM:
		return "lm"
	case Classify:
		return "classify"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// Source is a dataset split into Train and Val, read by sample index.
//
// Sources returned by this package are immutable once built and safe for
// concurrent use.
type Source interface {
	// Task reports what the samples teach.
	Task() Task
	// Len is the number of samples of split s.
	Len(s Split) int
	// Width is, for LM, the tokens per sample input (T); for Classify, the number of features.
	Width() int
	// Classes is, for LM, the vocabulary size; for Classify, the number of classes.
	Classes() int
	// Sample writes sample i of split s. LM: x and y of len Width() (y[j] = -1
	// where the loss ignores position j); feats is unused. Classify: feats of
	// len Width(), y[0] = label; x is unused. It panics if i is out of
	// range or a slice is too short (caller bugs).
	Sample(s Split, i int, x, y []int32, feats []float32)
	// Tokenizer returns the tokenizer that made the tokens; nil for Classify.
	Tokenizer() Tokenizer
}

// Kinded is implemented by the sources of this package: Kind names the
// source kind ("addition", "text", "csv"), as in Config.Kind.
type Kinded interface {
	Kind() string
}

// FeatureStats is implemented by classification sources. It returns the
// per-feature mean and standard deviation over the Train split, so a model
// can standardise inputs as (x - mean) / std. A feature constant over Train
// reports std 1, so the division is always safe. The slices are shared:
// callers must not modify them.
type FeatureStats interface {
	FeatureStats() (mean, std []float32)
}

// Config selects and shapes a Source. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// Kind is the source: "addition", "text" or "csv".
	Kind string
	// Path is the input file of "text" and "csv".
	Path string
	// Tokenizer is "char" or "bpe" for "text"; addition always uses its fixed
	// 12-token vocabulary and csv has none.
	Tokenizer string
	// TokenizerFile, when set, is a file written by SaveTokenizer whose
	// tokenizer "text" uses instead of building one from the corpus.
	TokenizerFile string
	// BPEVocabSize is the vocabulary size "bpe" trains to (257 to 65536).
	BPEVocabSize int
	// ValFraction is the fraction of the data held out as Val, in [0, 1).
	ValFraction float64
	// Digits is the number of digits of each addition operand (1 to 9).
	Digits int
	// MaxProblems caps the addition problems used (train plus val) when
	// 10^(2·Digits) is larger; 0 means 1,000,000.
	MaxProblems int
	// BlockSize is the tokens per "text" sample (T); other kinds ignore it.
	BlockSize int
	// CSVHeader says the first line of a "csv" file is a header to skip.
	CSVHeader bool
	// Seed drives the train/val splits of addition and csv.
	Seed uint64
}

// DefaultConfig returns the built-in default: 2-digit addition with 10 % of
// the 10,000 problems held out.
func DefaultConfig() Config {
	return Config{
		Kind:         "addition",
		Tokenizer:    "char",
		BPEVocabSize: 512,
		ValFraction:  0.1,
		Digits:       2,
		BlockSize:    64,
		Seed:         1337,
	}
}

const defaultMaxProblems = 1_000_000

// Validate reports the first invalid field, wrapping ErrConfig.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if !(c.ValFraction >= 0 && c.ValFraction < 1) {
		return bad("ValFraction", "%v is not in [0, 1)", c.ValFraction)
	}
	switch c.Kind {
	case "addition":
		if c.Digits < 1 || c.Digits > 9 {
			return bad("Digits", "%d is not in [1, 9]", c.Digits)
		}
		if c.MaxProblems < 0 {
			return bad("MaxProblems", "%d is negative", c.MaxProblems)
		}
	case "text":
		if c.Path == "" {
			return bad("Path", "empty; text needs a file")
		}
		if c.BlockSize < 1 {
			return bad("BlockSize", "%d is not positive", c.BlockSize)
		}
		switch c.Tokenizer {
		case "char":
		case "bpe":
			if c.TokenizerFile == "" && (c.BPEVocabSize < 257 || c.BPEVocabSize > maxBPEVocab) {
				return bad("BPEVocabSize", "%d is not in [257, %d]", c.BPEVocabSize, maxBPEVocab)
			}
		default:
			if c.TokenizerFile == "" {
				return bad("Tokenizer", "%q is not char or bpe", c.Tokenizer)
			}
		}
	case "csv":
		if c.Path == "" {
			return bad("Path", "empty; csv needs a file")
		}
	default:
		return bad("Kind", "%q is not addition, text or csv", c.Kind)
	}
	return nil
}

// Open builds the Source that cfg describes, reading cfg.Path if the kind
// needs a file.
func Open(cfg Config) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case "addition":
		return NewAddition(cfg.Digits, cfg.ValFraction, cfg.MaxProblems, cfg.Seed)
	case "text":
		return OpenText(cfg)
	default: // "csv", by Validate
		return OpenCSV(cfg.Path, cfg.CSVHeader, cfg.ValFraction, cfg.Seed)
	}
}

// splitCount returns how many of n items go to Val: ValFraction of them,
// rounded down, like nanoGPT's int(n*0.9) for train.
func splitCount(n int, valFraction float64) (nTrain, nVal int) {
	nTrain = int(float64(n) * (1 - valFraction))
	if valFraction > 0 && nTrain == n && n > 1 {
		nTrain = n - 1
	}
	return nTrain, n - nTrain
}

// checkIndex panics with a clear message when i is not a sample of split s.
func checkIndex(src string, s Split, i, n int) {
	if i < 0 || i >= n {
		panic(fmt.Sprintf("dataset: %s: sample %d of %s out of range [0, %d)", src, i, s, n))
	}
}

// FormatError locates a malformed input: the file, and the line and
// column (1-based; 0 when unknown) of the bad value. It matches
// ErrFormat with errors.Is.
type FormatError struct {
	Path         string
	Line, Column int
	Msg          string
}

// Error returns "path:line:column: msg", leaving out unknown parts.
func (e *FormatError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
}

// Unwrap returns ErrFormat.
func (e *FormatError) Unwrap() error { return ErrFormat }

func formatErr(path string, line, col int, format string, args ...any) error {
	return &FormatError{Path: path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}
