package conf

import (
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary files and overrides: it must never panic, every problem must
// carry a position, and a config it accepts must survive the round trip through YAML.
func FuzzParse(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.yaml), strings.Join(tc.sets, "\n"))
	}
	f.Add(Embedded(), "")
	f.Add(Default().YAML(), "model.hidden=[1,2]")
	f.Fuzz(func(t *testing.T, data []byte, sets string) {
		var s []string
		if sets != "" {
			s = strings.Split(sets, "\n")
		}
		c, err := Parse("f.yaml", data, s)
		if err != nil {
			for _, p := range Problems(err) {
				if p == nil || p.Error() == "" {
					t.Fatalf("Parse(%q, %q): empty problem in %v", data, s, err)
				}
			}
			return
		}
		back, err := Parse("canonical.yaml", c.YAML(), nil)
		if err != nil {
			t.Fatalf("Parse(%q, %q) ok, but its YAML does not parse: %v\n%s", data, s, err, c.YAML())
		}
		if back.Hash() != c.Hash() {
			t.Fatalf("Parse(%q, %q): round trip through YAML changed the config:\n%s\nvs\n%s", data, s, c.YAML(), back.YAML())
		}
	})
}
