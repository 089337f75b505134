package dataset

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCharVocabOrder(t *testing.T) {
	tests := []struct {
		name, corpus, want string
	}{
		{"ascii", "hello world", " dehlorw"},
		{"newline first", "b\na", "\nab"},
		{"unicode after ascii", "é a\tz", "\t azé"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewChar(tt.corpus).Vocab(); got != tt.want {
				t.Errorf("NewChar(%q).Vocab() = %q; want %q", tt.corpus, got, tt.want)
			}
		})
	}
}

func TestCharRoundTrip(t *testing.T) {
	corpus := "First Citizen:\nBefore we proceed any further, hear me speak. — ¿qué? 日本"
	c := NewChar(corpus)
	ids := c.Encode(corpus)
	if got := c.Decode(ids); got != corpus {
		t.Errorf("Decode(Encode(%q)) = %q", corpus, got)
	}
	if got := utf8.RuneCountInString(corpus); len(ids) != got {
		t.Errorf("len(Encode(corpus)) = %d; want %d runes", len(ids), got)
	}
	if got := c.Encode("Fx!"); !slices.Equal(got, c.Encode("F!")) {
		t.Errorf("Encode(%q) = %v; want the unknown 'x' dropped", "Fx!", got)
	}
	if _, err := c.EncodeStrict("Fx"); !errors.Is(err, ErrUnknownRune) {
		t.Errorf("EncodeStrict(%q) error = %v; want ErrUnknownRune", "Fx", err)
	}
	if got := c.Decode([]int32{-1, int32(c.VocabSize())}); got != "\uFFFD\uFFFD" {
		t.Errorf("Decode(out of range) = %q; want two U+FFFD", got)
	}
}

func TestAdditionTokenizer(t *testing.T) {
	a := AdditionTokenizer()
	if got, want := a.Encode("12+35=740"), []int32{1, 2, 10, 3, 5, 11, 7, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("Encode(%q) = %v; want %v", "12+35=740", got, want)
	}
	if a.VocabSize() != 12 {
		t.Errorf("VocabSize() = %d; want 12", a.VocabSize())
	}
	if _, err := NewCharVocab("aba"); err == nil {
		t.Errorf("NewCharVocab(%q) succeeded; want an error for the repeated rune", "aba")
	}
}

func TestBPERoundTrip(t *testing.T) {
	train := []byte("the cat sat on the mat; the cat ate the rat. 12345 12345 \n\n  spaces\t\ttabs ☃☃☃")
	bpe, err := TrainBPE(train, 300)
	if err != nil {
		t.Fatal(err)
	}
	if bpe.VocabSize() <= 256 {
		t.Fatalf("VocabSize() = %d; want merges learned", bpe.VocabSize())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{
		"", "t", "the cat", string(train), "\xff\xfe invalid \xc3 utf8 \xe2\x98", "the\x00cat",
		string(bytes.Repeat([]byte("a"), 1000)), "  leading and trailing  ",
	}
	for range 20 {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		ids := bpe.Encode(in)
		if got := bpe.Decode(ids); got != in {
			t.Errorf("Decode(Encode(%q)) = %q", in, got)
		}
	}
	if n := len(bpe.Encode("the cat")); n >= len("the cat") {
		t.Errorf("len(Encode(%q)) = %d; want fewer tokens than bytes", "the cat", n)
	}
}

// TestBPEMatchesNaive checks the incremental trainer against a trainer that
// recounts every pair before each merge.
func TestBPEMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	syll := []string{"lo", "w", "er", "est", "ne", "a", "ab", " ", " ", "\n", "1", "2", ".", "é"}
	var gen []byte
	for range 5000 {
		gen = append(gen, syll[rng.IntN(len(syll))]...)
	}
	tests := []struct {
		name  string
		data  []byte
		vocab int
	}{
		{"words", []byte("low lower lowest newer newest wider widest low low newer aaa aaaa aaaaa abab ababab"), 280},
		{"generated", gen, 400},
	}
	for _, tt := range tests {
		got, err := TrainBPE(tt.data, tt.vocab)
		if err != nil {
			t.Fatal(err)
		}
		want := naiveBPE(tt.data, tt.vocab)
		if !slices.Equal(got.merges, want) {
			t.Errorf("%s: TrainBPE merges = %v; want %v", tt.name, got.merges, want)
		}
	}
}

func naiveBPE(data []byte, vocab int) [][2]int32 {
	var words [][]int32
	for i := 0; i < len(data); {
		j := chunkEnd(data, i)
		w := make([]int32, 0, j-i)
		for _, b := range data[i:j] {
			w = append(w, int32(b))
		}
		words = append(words, w)
		i = j
	}
	var merges [][2]int32
	for len(merges) < vocab-256 {
		counts := map[uint64]int64{}
		for _, w := range words {
			for k := 0; k+1 < len(w); k++ {
				counts[pairKey(w[k], w[k+1])]++
			}
		}
		best, bc := uint64(0), int64(0)
		for p, c := range counts {
			if c > bc || c == bc && p < best {
				best, bc = p, c
			}
		}
		if bc == 0 {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		id := int32(256 + len(merges))
		merges = append(merges, [2]int32{a, b})
		for i := range words {
			words[i] = mergePair(words[i], a, b, id)
		}
	}
	return merges
}

func TestChunks(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"x\n\ny", []string{"x", "\n\n", "y"}},
		{"it's 42!", []string{"it", "'", "s", " 42", "!"}},
		{"end  ", []string{"end", "  "}},
		{"é,ü", []string{"é", ",", "ü"}},
	}
	for _, tt := range tests {
		var got []string
		for i := 0; i < len(tt.in); {
			j := chunkEnd(tt.in, i)
			got = append(got, tt.in[i:j])
			i = j
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("chunks(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenizerMarshal(t *testing.T) {
	bpe, err := TrainBPE([]byte("abracadabra abracadabra"), 270)
	if err != nil {
		t.Fatal(err)
	}
	toks := []Tokenizer{NewChar("hello, wörld\n"), AdditionTokenizer(), bpe}
	for _, tok := range toks {
		t.Run(tok.Kind(), func(t *testing.T) {
			b, err := tok.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalTokenizer(b)
			if err != nil {
				t.Fatalf("UnmarshalTokenizer(MarshalBinary()) error = %v", err)
			}
			if got.Kind() != tok.Kind() || got.VocabSize() != tok.VocabSize() {
				t.Errorf("UnmarshalTokenizer = %s/%d; want %s/%d", got.Kind(), got.VocabSize(), tok.Kind(), tok.VocabSize())
			}
			ids := make([]int32, tok.VocabSize())
			for i := range ids {
				ids[i] = int32(i)
			}
			if g, w := got.Decode(ids), tok.Decode(ids); g != w {
				t.Errorf("Decode(all ids) = %q; want %q", g, w)
			}
			path := t.TempDir() + "/tok.bin"
			if err := SaveTokenizer(path, tok); err != nil {
				t.Fatal(err)
			}
			if l, err := LoadTokenizer(path); err != nil || l.Decode(ids) != tok.Decode(ids) {
				t.Errorf("LoadTokenizer(SaveTokenizer) = %v, %v; want the same tokenizer", l, err)
			}
		})
	}
}

func TestUnmarshalTokenizerErrors(t *testing.T) {
	good, _ := AdditionTokenizer().MarshalBinary()
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad magic", []byte("XTOK\x01\x04char\x00")},
		{"bad version", []byte("CTOK\x09\x04char\x00")},
		{"unknown kind", []byte("CTOK\x01\x03foo")},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"repeated rune", []byte("CTOK\x01\x04char\x02aa")},
		{"bad rune", []byte("CTOK\x01\x04char\x01\x80\xb0\x03")},
		{"merge refers ahead", []byte("CTOK\x01\x03bpe\x01\x80\x02\x01")},
		{"huge count", []byte("CTOK\x01\x03bpe\xff\xff\x03")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalTokenizer(tt.in); !errors.Is(err, ErrBadTokenizer) {
				t.Errorf("UnmarshalTokenizer(%q) error = %v; want ErrBadTokenizer", tt.in, err)
			}
		})
	}
}

func FuzzUnmarshalTokenizer(f *testing.F) {
	for _, tok := range []Tokenizer{NewChar("hello"), AdditionTokenizer()} {
		b, _ := tok.MarshalBinary()
		f.Add(b)
	}
	if bpe, err := TrainBPE([]byte("aaabdaaabac"), 260); err == nil {
		b, _ := bpe.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("CTOK\x01\x03bpe\x01\x80\x02\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := UnmarshalTokenizer(b)
		if err != nil {
			if !errors.Is(err, ErrBadTokenizer) {
				t.Fatalf("UnmarshalTokenizer error = %v; want ErrBadTokenizer", err)
			}
			return
		}
		again, err := tok.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("MarshalBinary(UnmarshalTokenizer(%q)) = %q, %v; want the input", b, again, err)
		}
		s := "hello \xff"
		_ = tok.Decode(tok.Encode(s))
	})
}

func FuzzBPERoundTrip(f *testing.F) {
	bpe, err := TrainBPE([]byte("the quick brown fox jumps over the lazy dog, the end. ☃ 123"), 320)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("the quick"))
	f.Add([]byte("\xff\xfe\x00 \xe2\x98"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got := bpe.Decode(bpe.Encode(string(b))); got != string(b) {
			t.Fatalf("Decode(Encode(%q)) = %q", b, got)
		}
	})
}

// TestBPETrainSpeed trains on Tiny Shakespeare (about 1 MB) to 512 ids and
// checks it round-trips and stays within a generous time bound.
func TestBPETrainSpeed(t *testing.T) {
	data := readShared(t, "tinyshakespeare.txt")
	start := time.Now()
	bpe, err := TrainBPE(data, 512)
	if err != nil {
		t.Fatal(err)
	}
	train := time.Since(start)
	start = time.Now()
	ids := bpe.Encode(string(data))
	enc := time.Since(start)
	if bpe.VocabSize() != 512 {
		t.Errorf("VocabSize() = %d; want 512", bpe.VocabSize())
	}
	if bpe.Decode(ids) != string(data) {
		t.Errorf("Decode(Encode(tinyshakespeare)) differs from the input")
	}
	t.Logf("BPE 512 on %d bytes: train %v, encode %v, %d tokens (%.2f bytes/token)", len(data), train, enc, len(ids), float64(len(data))/float64(len(ids)))
	if train > 10*time.Second {
		t.Errorf("TrainBPE(1 MB, 512) took %v; want a few seconds", train)
	}
}

// readShared reads a file of ../shared/datasets, or skips the test.
func readShared(t testing.TB, name string) []byte {
	t.Helper()
	path := sharedPath(t, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sharedPath(t testing.TB, name string) string {
	t.Helper()
	path := "../../shared/datasets/" + name
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: shared dataset %s not found (%v); it lives in ../shared/datasets beside the repo", name, err)
	}
	return path
}
