package dataset

import (
	"slices"
	"strings"
	"testing"
)

func TestAdditionSample(t *testing.T) {
	tests := []struct {
		digits int
		a, b   uint64
		want   string
	}{
		{2, 12, 35, "12+35=740"},
		{2, 99, 99, "99+99=891"},
		{2, 0, 0, "00+00=000"},
		{1, 9, 8, "9+8=71"},
		{3, 5, 7, "005+007=2100"},
	}
	tok := AdditionTokenizer()
	for _, tt := range tests {
		d, err := NewAddition(tt.digits, 0.1, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Find the sample of problem (a, b) in one of the splits.
		found := false
		for _, s := range Splits {
			for i := range d.Len(s) {
				if a, b := d.Problem(s, i); a != tt.a || b != tt.b {
					continue
				}
				found = true
				w := d.Width()
				x, y := make([]int32, w), make([]int32, w)
				d.Sample(s, i, x, y, nil)
				seq := tok.Encode(tt.want)
				if !slices.Equal(x, seq[:len(seq)-1]) {
					t.Errorf("Sample(%d+%d).x = %q; want %q", tt.a, tt.b, tok.Decode(x), tt.want[:len(tt.want)-1])
				}
				wantY := slices.Clone(seq[1:])
				for j := range 2*tt.digits + 1 {
					wantY[j] = -1
				}
				if !slices.Equal(y, wantY) {
					t.Errorf("Sample(%d+%d).y = %v; want %v", tt.a, tt.b, y, wantY)
				}
				if got := FormatAddition(tt.digits, tt.a, tt.b); got != tt.want[:2*tt.digits+2] {
					t.Errorf("FormatAddition(%d, %d, %d) = %q; want %q", tt.digits, tt.a, tt.b, got, tt.want[:2*tt.digits+2])
				}
				sum, err := ParseAdditionAnswer(tt.digits, tt.want[2*tt.digits+2:])
				if err != nil || sum != tt.a+tt.b {
					t.Errorf("ParseAdditionAnswer(%q) = %d, %v; want %d", tt.want[2*tt.digits+2:], sum, err, tt.a+tt.b)
				}
			}
		}
		if !found {
			t.Errorf("%d-digit addition has no sample %d+%d", tt.digits, tt.a, tt.b)
		}
	}
}

func TestAdditionSplit(t *testing.T) {
	tests := []struct {
		name             string
		digits, max      int
		val              float64
		wantTrain, wantV int
		all              bool // every problem appears
	}{
		{"1 digit", 1, 0, 0.2, 80, 20, true},
		{"2 digits", 2, 0, 0.1, 9000, 1000, true},
		{"3 digits", 3, 0, 0.05, 950000, 50000, true},
		{"2 digits no val", 2, 0, 0, 10000, 0, true},
		{"4 digits sampled", 4, 20000, 0.1, 18000, 2000, false},
		{"9 digits sampled", 9, 5000, 0.5, 2500, 2500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewAddition(tt.digits, tt.val, tt.max, 7)
			if err != nil {
				t.Fatal(err)
			}
			if d.Len(Train) != tt.wantTrain || d.Len(Val) != tt.wantV {
				t.Fatalf("Len(Train), Len(Val) = %d, %d; want %d, %d", d.Len(Train), d.Len(Val), tt.wantTrain, tt.wantV)
			}
			// where[p] is 1 + the split of problem p = a·10^n + b, 0 if unseen;
			// sampled problem numbers are first compacted through a map.
			where := make([]int8, tt.wantTrain+tt.wantV)
			compact := map[uint64]int{}
			slot := func(p uint64) int {
				if tt.all {
					return int(p)
				}
				if i, ok := compact[p]; ok {
					return i
				}
				compact[p] = len(compact)
				return len(compact) - 1
			}
			for _, s := range Splits {
				for i := range d.Len(s) {
					a, b := d.Problem(s, i)
					if a >= d.pow || b >= d.pow {
						t.Fatalf("Problem(%s, %d) = %d+%d; out of range", s, i, a, b)
					}
					k := slot(a*d.pow + b)
					if where[k] != 0 {
						t.Fatalf("problem %d+%d is in %s and %s", a, b, Split(where[k]-1), s)
					}
					where[k] = int8(s) + 1
				}
			}
			if tt.all && uint64(len(where)) != d.pow*d.pow {
				t.Errorf("the splits hold %d problems; want all %d", len(where), d.pow*d.pow)
			}
		})
	}
}

func TestAdditionDeterministic(t *testing.T) {
	d1, _ := NewAddition(2, 0.1, 0, 42)
	d2, _ := NewAddition(2, 0.1, 0, 42)
	d3, _ := NewAddition(2, 0.1, 0, 43)
	same, diff := true, false
	for i := range d1.Len(Val) {
		a1, b1 := d1.Problem(Val, i)
		a2, b2 := d2.Problem(Val, i)
		a3, b3 := d3.Problem(Val, i)
		same = same && a1 == a2 && b1 == b2
		diff = diff || a1 != a3 || b1 != b3
	}
	if !same {
		t.Errorf("NewAddition with seed 42 twice gave different val problems")
	}
	if !diff {
		t.Errorf("NewAddition with seeds 42 and 43 gave the same val problems")
	}
}

func TestOpenAddition(t *testing.T) {
	src, err := Open(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if src.Task() != LM || src.Width() != 8 || src.Classes() != 12 || src.Len(Val) != 1000 {
		t.Errorf("Open(DefaultConfig()) = task %v width %d classes %d val %d; want lm 8 12 1000",
			src.Task(), src.Width(), src.Classes(), src.Len(Val))
	}
	if k, ok := src.(Kinded); !ok || k.Kind() != "addition" {
		t.Errorf("Open(DefaultConfig()) is not a Kinded addition source")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"kind", func(c *Config) { c.Kind = "images" }, "Kind"},
		{"digits 0", func(c *Config) { c.Digits = 0 }, "Digits"},
		{"digits 10", func(c *Config) { c.Digits = 10 }, "Digits"},
		{"val 1", func(c *Config) { c.ValFraction = 1 }, "ValFraction"},
		{"val negative", func(c *Config) { c.ValFraction = -0.1 }, "ValFraction"},
		{"text no path", func(c *Config) { c.Kind = "text" }, "Path"},
		{"text block", func(c *Config) { c.Kind, c.Path, c.BlockSize = "text", "x", 0 }, "BlockSize"},
		{"text tokenizer", func(c *Config) { c.Kind, c.Path, c.Tokenizer = "text", "x", "word" }, "Tokenizer"},
		{"bpe vocab", func(c *Config) { c.Kind, c.Path, c.Tokenizer, c.BPEVocabSize = "text", "x", "bpe", 100 }, "BPEVocabSize"},
		{"csv no path", func(c *Config) { c.Kind = "csv" }, "Path"},
		{"csv ok", func(c *Config) { c.Kind, c.Path = "csv", "x.csv" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Errorf("Validate() = %v; want an error naming %s", err, tt.field)
			}
		})
	}
}
