package conf

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// set applies one override "section.key=value". The value is read by the type of the key, not
// as YAML: "--set run.name=yes" is the string "yes", "--set model.hidden=[256,128]" (or
// "256,128", or "[]") a list.
func (d *decoder) set(c *Config, s string) {
	where := "--set " + s
	path, val, ok := strings.Cut(s, "=")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		d.probs.add(where, "", ErrSyntax, "want SECTION.KEY=VALUE, e.g. train.steps=100")
		return
	}
	secName, key, hasKey := strings.Cut(path, ".")
	sec, ok := d.schema.byName[secName]
	if !ok {
		d.probs.add(where, "", ErrUnknownKey, "%s", d.schema.unknownKey("", secName))
		return
	}
	if !hasKey {
		d.probs.add(where, "", ErrUnknownKey, "%s is a section; set one of its keys, e.g. %s", secName, sec.fields[0].path)
		return
	}
	f, ok := sec.byKey[key]
	if !ok {
		d.probs.add(where, "", ErrUnknownKey, "%s", d.schema.unknownKey(secName, key))
		return
	}
	if msg := decodeString(reflect.ValueOf(c).Elem().FieldByIndex(f.index), f, val); msg != "" {
		d.probs.add(where, f.path, ErrType, "%s", msg)
		d.failed[f.path] = true
		return
	}
	d.pos[f.path] = where
}

// decodeString stores the text s into v, a field of kind f.kind, or returns the problem.
func decodeString(v reflect.Value, f *field, s string) string {
	bad := func() string { return fmt.Sprintf("%s must be %s", f.path, f.kind.want()) }
	t := strings.TrimSpace(s)
	switch f.kind {
	case kindString:
		v.SetString(s)
	case kindInt:
		x, ok := parseInt(t)
		if !ok {
			return bad()
		}
		v.SetInt(x)
	case kindUint:
		x, err := strconv.ParseUint(strings.ReplaceAll(t, "_", ""), 10, 64)
		if err != nil {
			return bad()
		}
		v.SetUint(x)
	case kindFloat:
		x, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
		if err != nil {
			return bad()
		}
		v.SetFloat(x)
	case kindBool:
		switch strings.ToLower(t) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return bad()
		}
	case kindInts:
		t = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "["), "]"))
		out := []int{}
		if t != "" {
			for i, e := range strings.Split(t, ",") {
				x, ok := parseInt(strings.TrimSpace(e))
				if !ok {
					return fmt.Sprintf("%s[%d] must be an integer", f.path, i)
				}
				out = append(out, int(x))
			}
		}
		v.Set(reflect.ValueOf(out))
	}
	return ""
}

// parseInt reads a decimal integer, allowing 1_000 and an integral float such as 2e3.
func parseInt(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	if x, err := strconv.ParseInt(s, 10, 64); err == nil {
		return x, true
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
		return 0, false
	}
	return int64(fl), true
}
