package dataset

import (
	"fmt"
	"math/bits"
	"strconv"
)

// Addition is minGPT's "adder" task: the text "a+b=c" where a and b are
// zero-padded to n digits and the sum c is zero-padded to n+1 digits and
// written reversed, so it can be produced digit by digit from the least
// significant end. For n = 2 and 12+35 the sequence is "12+35=740", 3n+3
// tokens over AdditionVocab. Sample i has x = seq[:3n+2] and y = seq[1:],
// with y = -1 at every position before the answer digits, so the loss is on
// the n+1 answer digits alone.
//
// The problem number a·10^n + b runs over [0, 10^(2n)). A seeded
// pseudo-random permutation of that range (a Feistel network with cycle
// walking, so it needs no table) orders the problems: Val takes the first
// positions and Train the ones after, so no Val problem is ever in Train.
// When 10^(2n) exceeds MaxProblems only the first MaxProblems positions are
// used, which samples the problems uniformly and keeps the splits disjoint.
type Addition struct {
	digits       int
	pow          uint64 // 10^digits
	nTrain, nVal int
	perm         feistel
	tok          *Char
}

// NewAddition returns the addition task of n-digit operands with
// valFraction of the problems in Val; maxProblems caps the problems used
// (0 means 1,000,000); seed picks the permutation.
func NewAddition(digits int, valFraction float64, maxProblems int, seed uint64) (*Addition, error) {
	c := DefaultConfig()
	c.Digits, c.ValFraction, c.MaxProblems = digits, valFraction, maxProblems
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if maxProblems == 0 {
		maxProblems = defaultMaxProblems
	}
	pow := uint64(1)
	for range digits {
		pow *= 10
	}
	total := pow * pow
	used := int(min(total, uint64(maxProblems)))
	nTrain, nVal := splitCount(used, valFraction)
	return &Addition{
		digits: digits, pow: pow, nTrain: nTrain, nVal: nVal,
		perm: newFeistel(total, seed), tok: AdditionTokenizer(),
	}, nil
}

// Kind returns "addition".
func (d *Addition) Kind() string { return "addition" }

// Task returns LM.
func (d *Addition) Task() Task { return LM }

// Digits is the number of digits of each operand.
func (d *Addition) Digits() int { return d.digits }

// Len is the number of problems of split s.
func (d *Addition) Len(s Split) int {
	if s == Val {
		return d.nVal
	}
	return d.nTrain
}

// Width is 3n+2, the length of x.
func (d *Addition) Width() int { return 3*d.digits + 2 }

// Classes is 12, the size of AdditionVocab.
func (d *Addition) Classes() int { return len(AdditionVocab) }

// Tokenizer returns AdditionTokenizer().
func (d *Addition) Tokenizer() Tokenizer { return d.tok }

// Problem returns the operands of sample i of split s.
func (d *Addition) Problem(s Split, i int) (a, b uint64) {
	checkIndex("addition", s, i, d.Len(s))
	pos := uint64(i)
	if s == Train {
		pos += uint64(d.nVal)
	}
	p := d.perm.permute(pos)
	return p / d.pow, p % d.pow
}

// Sample writes the x and y of problem i of split s.
func (d *Addition) Sample(s Split, i int, x, y []int32, _ []float32) {
	a, b := d.Problem(s, i)
	var seq [3*9 + 3]int32
	n := d.digits
	putDigits(seq[:n], a)
	seq[n] = 10 // '+'
	putDigits(seq[n+1:2*n+1], b)
	seq[2*n+1] = 11 // '='
	putDigits(seq[2*n+2:3*n+3], a+b)
	reverse(seq[2*n+2 : 3*n+3])
	w := 3*n + 2
	copy(x[:w], seq[:w])
	copy(y[:w], seq[1:w+1])
	for j := range 2*n + 1 {
		y[j] = -1
	}
}

// putDigits writes v into dst as len(dst) zero-padded decimal digit ids.
func putDigits(dst []int32, v uint64) {
	for k := len(dst) - 1; k >= 0; k-- {
		dst[k] = int32(v % 10)
		v /= 10
	}
}

func reverse(s []int32) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// FormatAddition returns the prompt of a+b for n-digit operands, such as
// "12+35=" for n = 2.
func FormatAddition(digits int, a, b uint64) string {
	return fmt.Sprintf("%0*d+%0*d=", digits, a, digits, b)
}

// ParseAdditionAnswer reads the n+1 reversed answer digits that follow the
// prompt, such as "740" for 47, and returns the sum.
func ParseAdditionAnswer(digits int, answer string) (uint64, error) {
	if len(answer) != digits+1 {
		return 0, fmt.Errorf("%w: addition answer %q has %d digits, want %d", ErrFormat, answer, len(answer), digits+1)
	}
	r := []byte(answer)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	v, err := strconv.ParseUint(string(r), 10, 64)
	if err != nil || r[0] == '+' {
		return 0, fmt.Errorf("%w: addition answer %q is not decimal digits", ErrFormat, answer)
	}
	return v, nil
}

// feistel is a keyed permutation of [0, n): a balanced Feistel network on
// the smallest even number of bits covering n, with cycle walking (apply it
// again until the value falls below n), which keeps it a bijection on [0, n).
type feistel struct {
	n        uint64
	halfBits uint
	mask     uint64
	keys     [4]uint64
}

func newFeistel(n, seed uint64) feistel {
	b := uint(bits.Len64(n - 1))
	if b < 2 {
		b = 2
	}
	b = (b + 1) &^ 1
	f := feistel{n: n, halfBits: b / 2, mask: 1<<(b/2) - 1}
	s := seed ^ 0x6164646974696f6e // "addition"
	for i := range f.keys {
		s = splitmix64(s)
		f.keys[i] = s
	}
	return f
}

func (f *feistel) permute(x uint64) uint64 {
	for {
		l, r := x>>f.halfBits, x&f.mask
		for _, k := range f.keys {
			l, r = r, l^(splitmix64(r^k)&f.mask)
		}
		x = l<<f.halfBits | r
		if x < f.n {
			return x
		}
	}
}

// splitmix64 is the finaliser of SplitMix64, a fast strong bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
