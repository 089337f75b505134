package dataset

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestCSV(t *testing.T) {
	const body = "1,2,0\n3,4.5,1\n-1,0,2\n2,2,1\n"
	tests := []struct {
		name    string
		content string
		header  bool
	}{
		{"no header", body, false},
		{"header", "a,b,label\n" + body, true},
		{"sklearn header", "4,2,x,y,z\n" + body, true},
		{"spaces and CRLF", strings.ReplaceAll(strings.ReplaceAll(body, ",", ", "), "\n", "\r\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x.csv", tt.content)
			c := DefaultConfig()
			c.Kind, c.Path, c.CSVHeader, c.ValFraction = "csv", path, tt.header, 0.25
			src, err := Open(c)
			if err != nil {
				t.Fatal(err)
			}
			if src.Task() != Classify || src.Width() != 2 || src.Classes() != 3 || src.Len(Train) != 3 || src.Len(Val) != 1 {
				t.Fatalf("Open = %v width %d classes %d len %d/%d; want classify 2 3 3/1",
					src.Task(), src.Width(), src.Classes(), src.Len(Train), src.Len(Val))
			}
			if src.Tokenizer() != nil {
				t.Errorf("Tokenizer() = %v; want nil", src.Tokenizer())
			}
			rows := map[[3]float32]bool{{1, 2, 0}: true, {3, 4.5, 1}: true, {-1, 0, 2}: true, {2, 2, 1}: true}
			f, y := make([]float32, 2), make([]int32, 1)
			var train [][2]float32
			for _, s := range Splits {
				for i := range src.Len(s) {
					src.Sample(s, i, nil, y, f)
					r := [3]float32{f[0], f[1], float32(y[0])}
					if !rows[r] {
						t.Errorf("Sample(%s, %d) = %v; not a row of the file or used twice", s, i, r)
					}
					delete(rows, r)
					if s == Train {
						train = append(train, [2]float32{f[0], f[1]})
					}
				}
			}
			mean, std := src.(FeatureStats).FeatureStats()
			for j := range 2 {
				var m, v float64
				for _, r := range train {
					m += float64(r[j])
				}
				m /= 3
				for _, r := range train {
					v += (float64(r[j]) - m) * (float64(r[j]) - m)
				}
				s := math.Sqrt(v / 3)
				if s == 0 {
					s = 1
				}
				if math.Abs(float64(mean[j])-m) > 1e-6 || math.Abs(float64(std[j])-s) > 1e-6 {
					t.Errorf("FeatureStats()[%d] = %v, %v; want %v, %v", j, mean[j], std[j], m, s)
				}
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name, content string
		header        bool
		want          string // in the message, after the file name
	}{
		{"bad feature", "1,2,0\n3,x,1\n", false, ":2:3: feature 1"},
		{"nan feature", "1,NaN,0\n", false, ":1:3: feature 1"},
		{"bad label", "1,2,0\n3,4,1.5\n", false, ":2:5: label"},
		{"negative label", "1,2,-1\n", false, ":1:5: label"},
		{"ragged", "1,2,0\n3,1\n", false, ":2: 2 fields; want 3"},
		{"one column", "1\n", false, ":1: 1 fields"},
		{"header only", "a,b,c\n", true, "no data rows"},
		{"empty", "", false, "no data rows"},
		{"bad quote", "1,\"2,0\n", false, ":1:"},
		{"header not skipped", "a,b,c\n1,2,0\n", false, ":1:1: feature 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bad.csv", tt.content)
			_, err := OpenCSV(path, tt.header, 0, 1)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenCSV(%q) error = %v; want ErrFormat with %q", tt.content, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("OpenCSV(%q) error = %v; want the file name in it", tt.content, err)
			}
		})
	}
}

func TestCSVFormatError(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("1,2,0\n3,oops,1\n"), "table.csv", false, 0, 1)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != "table.csv" || fe.Line != 2 || fe.Column != 3 {
		t.Errorf("ReadCSV error = %#v; want a FormatError at table.csv:2:3", err)
	}
}

func TestCSVSplitDeterministic(t *testing.T) {
	var feats []float32
	var labels []int32
	for i := range 100 {
		feats = append(feats, float32(i))
		labels = append(labels, int32(i%3))
	}
	valOf := func(seed uint64) []float32 {
		d, err := NewCSV(feats, labels, 1, 0.2, seed)
		if err != nil {
			t.Fatal(err)
		}
		var v []float32
		f, y := make([]float32, 1), make([]int32, 1)
		for i := range d.Len(Val) {
			d.Sample(Val, i, nil, y, f)
			v = append(v, f[0])
		}
		return v
	}
	a, b, c := valOf(5), valOf(5), valOf(6)
	if len(a) != 20 || !slices.Equal(a, b) {
		t.Errorf("val rows with seed 5 = %v then %v; want 20, the same twice", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("val rows with seeds 5 and 6 are equal: %v", a)
	}
}

func TestSharedCSV(t *testing.T) {
	tests := []struct {
		file                 string
		header               bool
		rows, width, classes int
	}{
		{"digits.csv", false, 1797, 64, 10},
		{"iris.csv", true, 150, 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := sharedPath(t, tt.file)
			src, err := OpenCSV(path, tt.header, 0.2, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n := src.Len(Train) + src.Len(Val); n != tt.rows || src.Width() != tt.width || src.Classes() != tt.classes {
				t.Errorf("OpenCSV(%s) = %d rows, width %d, %d classes; want %d, %d, %d",
					tt.file, n, src.Width(), src.Classes(), tt.rows, tt.width, tt.classes)
			}
			if want := tt.rows - int(float64(tt.rows)*0.8); src.Len(Val) != want {
				t.Errorf("Len(Val) = %d; want %d", src.Len(Val), want)
			}
		})
	}
}
