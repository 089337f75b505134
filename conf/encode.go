package conf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// YAML returns c as YAML: every section and key in schema order, every value written out
// (defaults included), nothing else. Parse reads it back to an equal Config, and equal Configs
// give identical bytes, so it is the canonical form that Hash digests.
func (c Config) YAML() []byte {
	var b bytes.Buffer
	v := reflect.ValueOf(c)
	for i, sec := range theSchema().sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(sec.name)
		b.WriteString(":\n")
		for _, f := range sec.fields {
			b.WriteString("  ")
			b.WriteString(f.key)
			b.WriteString(": ")
			b.WriteString(encodeValue(v.FieldByIndex(f.index), f.kind))
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Hash returns the SHA-256 of c.YAML(), in hex: two configs have the same hash exactly when
// every field is equal.
func (c Config) Hash() string {
	sum := sha256.Sum256(c.YAML())
	return hex.EncodeToString(sum[:])
}

func encodeValue(v reflect.Value, k kind) string {
	switch k {
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindUint:
		return strconv.FormatUint(v.Uint(), 10)
	case kindFloat:
		return encodeFloat(v.Float())
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindInts:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = strconv.FormatInt(v.Index(i).Int(), 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return encodeString(v.String())
	}
}

// encodeFloat writes the shortest form that reads back exactly, always with a dot so that every
// YAML reader (1.1 or 1.2) sees a float: 0.001, 1.0, 1.0e-10.
func encodeFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return ".nan"
	case math.IsInf(x, 1):
		return ".inf"
	case math.IsInf(x, -1):
		return "-.inf"
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	mant, exp, hasExp := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if hasExp {
		return mant + "e" + exp
	}
	return mant
}

// encodeString writes s bare when YAML reads it back as the same string, else double-quoted.
func encodeString(s string) string {
	if bareString(s) {
		return s
	}
	return strconv.Quote(s)
}

func bareString(s string) bool {
	if s == "" {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return false
	}
	// A letter, '_' or '/' starts a plain string; so do "./" and "../" (but not ".5" or ".inf").
	c := s[0]
	letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/'
	if !letter && !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./", c) >= 0) {
			return false
		}
	}
	return true
}
