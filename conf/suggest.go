package conf

import (
	"fmt"
	"strings"
)

// levenshtein returns the edit distance between a and b: insertions, deletions, substitutions
// and, as one edit, swaps of two adjacent characters (the optimal-string-alignment variant, so
// that "trian" is one edit from "train").
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// closest returns the candidate nearest to s, if it is near enough to be a likely typo: at most
// a third of the longer name's length away (and at least 1). Ties go to the earlier candidate.
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, max(len(s), len(best))/3)
	if bestD < 0 || bestD > limit {
		return "", false
	}
	return best, true
}

// unknownKey returns the message for key, unknown in section sec ("" = at the top level), with
// a suggestion: a near key of the same section, the same or a near key of another section, or
// the Craft name of a well-known key of another tool.
func (s *schema) unknownKey(sec, key string) string {
	if sec == "" {
		msg := fmt.Sprintf("unknown section %q", key)
		if c, ok := closest(key, s.sectionNames()); ok {
			return msg + fmt.Sprintf(" (did you mean %q?)", c)
		}
		if p, ok := s.elsewhere("", key); ok {
			return msg + fmt.Sprintf(" (did you mean %q, in section %s?)", p, strings.Split(p, ".")[0])
		}
		return msg + " (sections: " + strings.Join(s.sectionNames(), ", ") + ")"
	}
	msg := fmt.Sprintf("unknown key %q in %s", key, sec)
	here := s.byName[sec]
	keys := make([]string, len(here.fields))
	for i, f := range here.fields {
		keys[i] = f.key
	}
	if a, ok := aliases[strings.ToLower(key)]; ok {
		return msg + fmt.Sprintf(" (did you mean %q?)", strings.TrimPrefix(a, sec+"."))
	}
	if c, ok := closest(key, keys); ok {
		return msg + fmt.Sprintf(" (did you mean %q?)", c)
	}
	if p, ok := s.elsewhere(sec, key); ok {
		return msg + fmt.Sprintf(" (did you mean %q?)", p)
	}
	return msg + " (keys: " + strings.Join(keys, ", ") + ")"
}

// elsewhere finds key in a section other than sec: an alias, the same key, or a near one.
func (s *schema) elsewhere(sec, key string) (string, bool) {
	if a, ok := aliases[strings.ToLower(key)]; ok {
		return a, true
	}
	var paths, keys []string
	for _, other := range s.sections {
		if other.name == sec {
			continue
		}
		for _, f := range other.fields {
			if f.key == key {
				return f.path, true
			}
			paths = append(paths, f.path)
			keys = append(keys, f.key)
		}
	}
	if c, ok := closest(key, keys); ok {
		for i, k := range keys {
			if k == c {
				return paths[i], true
			}
		}
	}
	return "", false
}
