package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func textConfig(path, tok string, block int, val float64) Config {
	c := DefaultConfig()
	c.Kind, c.Path, c.Tokenizer, c.BlockSize, c.ValFraction, c.BPEVocabSize = "text", path, tok, block, val, 260
	return c
}

func TestTextSplitAndWindows(t *testing.T) {
	corpus := "abcdefghijklmnopqrst" // 20 chars
	path := writeFile(t, "t.txt", corpus)
	src, err := Open(textConfig(path, "char", 4, 0.25))
	if err != nil {
		t.Fatal(err)
	}
	d := src.(*Text)
	// 15 train tokens (int(20*0.75)), 5 val.
	if got := d.Tokenizer().Decode(d.Tokens(Train)); got != corpus[:15] {
		t.Errorf("train tokens = %q; want %q", got, corpus[:15])
	}
	if got := d.Tokenizer().Decode(d.Tokens(Val)); got != corpus[15:] {
		t.Errorf("val tokens = %q; want %q", got, corpus[15:])
	}
	if d.Len(Train) != 11 || d.Len(Val) != 1 || d.Width() != 4 || d.Classes() != 20 {
		t.Errorf("Len = %d/%d, Width %d, Classes %d; want 11/1, 4, 20", d.Len(Train), d.Len(Val), d.Width(), d.Classes())
	}
	x, y := make([]int32, 4), make([]int32, 4)
	tests := []struct {
		s            Split
		i            int
		wantX, wantY string
	}{
		{Train, 0, "abcd", "bcde"},
		{Train, 10, "klmn", "lmno"},
		{Val, 0, "pqrs", "qrst"},
	}
	for _, tt := range tests {
		d.Sample(tt.s, tt.i, x, y, nil)
		if gx, gy := d.Tokenizer().Decode(x), d.Tokenizer().Decode(y); gx != tt.wantX || gy != tt.wantY {
			t.Errorf("Sample(%s, %d) = %q, %q; want %q, %q", tt.s, tt.i, gx, gy, tt.wantX, tt.wantY)
		}
	}
}

func TestTextBPE(t *testing.T) {
	corpus := strings.Repeat("to be or not to be, that is the question. ", 20) + "\xff raw bytes"
	path := writeFile(t, "t.txt", corpus)
	src, err := Open(textConfig(path, "bpe", 8, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	d := src.(*Text)
	all := append(slices.Clone(d.Tokens(Train)), d.Tokens(Val)...)
	if got := d.Tokenizer().Decode(all); got != corpus {
		t.Errorf("Decode(train+val) = %q; want the corpus", got)
	}
	if d.Classes() != 260 {
		t.Errorf("Classes() = %d; want 260", d.Classes())
	}
	// A saved tokenizer is reused as is.
	tokPath := filepath.Join(t.TempDir(), "tok.bin")
	if err := SaveTokenizer(tokPath, d.Tokenizer()); err != nil {
		t.Fatal(err)
	}
	cfg := textConfig(path, "bpe", 8, 0.1)
	cfg.TokenizerFile, cfg.BPEVocabSize = tokPath, 0
	src2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(src2.(*Text).Tokens(Train), d.Tokens(Train)) {
		t.Errorf("tokens with the saved tokenizer differ from the trained one's")
	}
}

func TestTextErrors(t *testing.T) {
	tests := []struct {
		name, content string
		tok           string
		block         int
		want          error
		msg           string
	}{
		{"invalid utf8 for char", "ok\nbad \xff here", "char", 2, ErrFormat, ":2:5:"},
		{"too short", "abc", "char", 8, ErrConfig, "train split"},
		{"val too short", "abcdefghijklmnopqrstuvwxyz", "char", 4, ErrConfig, "val split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x.txt", tt.content)
			_, err := Open(textConfig(path, tt.tok, tt.block, 0.1))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open(%q) error = %v; want %v naming %s and %q", tt.content, err, tt.want, path, tt.msg)
			}
		})
	}
	if _, err := Open(textConfig(filepath.Join(t.TempDir(), "missing.txt"), "char", 4, 0.1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing file) error = %v; want os.ErrNotExist", err)
	}
}

// TestShakespeare checks nanoGPT's shakespeare_char numbers: 65 characters,
// 1,003,854 train and 111,540 val tokens.
func TestShakespeare(t *testing.T) {
	path := sharedPath(t, "tinyshakespeare.txt")
	src, err := Open(textConfig(path, "char", 64, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	d := src.(*Text)
	if got := len(d.Tokens(Train)); got != 1003854 {
		t.Errorf("train tokens = %d; want 1003854", got)
	}
	if got := len(d.Tokens(Val)); got != 111540 {
		t.Errorf("val tokens = %d; want 111540", got)
	}
	if d.Classes() != 65 {
		t.Errorf("Classes() = %d; want 65", d.Classes())
	}
	if got := d.Tokenizer().(*Char).Vocab(); got != "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" {
		t.Errorf("vocabulary = %q; want nanoGPT's", got)
	}
	if d.Len(Train) != 1003854-64 {
		t.Errorf("Len(Train) = %d; want %d", d.Len(Train), 1003854-64)
	}
	x, y := make([]int32, 64), make([]int32, 64)
	d.Sample(Train, 0, x, y, nil)
	if got := d.Tokenizer().Decode(x[:14]); got != "First Citizen:" {
		t.Errorf("Sample(Train, 0).x = %q...; want %q", got, "First Citizen:")
	}
}
