package conf

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestYAMLRoundTrip(t *testing.T) {
	odd := Default()
	odd.Run.Name = "x-1.b_c"
	odd.Run.Seed = math.MaxUint64
	odd.Run.OutDir = "../out dir/ü"
	odd.Data.Path = "C:\\data\\\"q\".txt"
	odd.Cluster.JoinToken = "yes"
	odd.Cluster.HTTPAddr = ""
	odd.Train.LearningRate = 1e-10
	odd.Train.MinLR = 1e-12
	odd.Train.WeightDecay = 0.30000000000000004
	odd.Model.Hidden = []int{}
	for _, c := range []Config{Default(), odd} {
		got, err := Parse("canonical.yaml", c.YAML(), nil)
		if err != nil {
			t.Fatalf("Parse(YAML()) error: %v\n%s", err, c.YAML())
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Parse(YAML()) =\n%s\nwant\n%s", got.YAML(), c.YAML())
		}
		if got.Hash() != c.Hash() {
			t.Errorf("Parse(YAML()).Hash() = %s; want %s", got.Hash(), c.Hash())
		}
	}
}

func TestHash(t *testing.T) {
	a, b := Default(), Default()
	if a.Hash() != b.Hash() {
		t.Errorf("Default().Hash() = %s, then %s; want equal", a.Hash(), b.Hash())
	}
	if len(a.Hash()) != 64 || strings.Trim(a.Hash(), "0123456789abcdef") != "" {
		t.Errorf("Hash() = %q; want 64 hex digits", a.Hash())
	}
	b.Train.Steps++
	if a.Hash() == b.Hash() {
		t.Errorf("Hash() equal after changing train.steps; want different")
	}
	// The file's layout and comments do not matter, only the values.
	x, err := Parse("x", []byte("train:\n  steps: 2000 # same as the default\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Hash() != a.Hash() {
		t.Errorf("Hash() of a file restating a default = %s; want the default's %s", x.Hash(), a.Hash())
	}
}

func TestYAMLListsEveryKey(t *testing.T) {
	y := string(Default().YAML())
	for path, f := range theSchema().byPath {
		if !strings.Contains(y, "\n  "+f.key+": ") {
			t.Errorf("Default().YAML() lacks %s", path)
		}
	}
}

func TestEncodeFloat(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.001, "0.001"}, {1e-4, "0.0001"}, {3e-5, "3.0e-05"},
		{1e-10, "1.0e-10"}, {1.5e21, "1.5e+21"}, {-2, "-2.0"}, {0.9, "0.9"},
		{math.Inf(1), ".inf"}, {math.Inf(-1), "-.inf"}, {math.NaN(), ".nan"},
	}
	for _, tc := range tests {
		if got := encodeFloat(tc.x); got != tc.want {
			t.Errorf("encodeFloat(%v) = %q; want %q", tc.x, got, tc.want)
		}
	}
}

func TestEncodeString(t *testing.T) {
	tests := []struct{ s, want string }{
		{"gpt", "gpt"}, {"", `""`}, {"runs", "runs"}, {"../shared/x.txt", "../shared/x.txt"},
		{"127.0.0.1:7070", `"127.0.0.1:7070"`}, {"true", `"true"`}, {"No", `"No"`}, {"null", `"null"`},
		{".inf", `".inf"`}, {"123", `"123"`}, {"a b", `"a b"`}, {"#x", `"#x"`}, {"-x", `"-x"`},
	}
	for _, tc := range tests {
		if got := encodeString(tc.s); got != tc.want {
			t.Errorf("encodeString(%q) = %s; want %s", tc.s, got, tc.want)
		}
	}
}
