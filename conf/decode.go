package conf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads the YAML file at path, applies the --set overrides and validates the result.
// See Parse.
func Load(path string, sets []string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("conf: read config: %w", err)
	}
	return Parse(path, data, sets)
}

// Parse decodes the YAML document data (named name in errors) over Default, applies the
// overrides sets ("section.key=value", in order, later ones winning) and validates the result.
//
// Decoding is strict: an unknown key, a value of the wrong type or a second document is an
// error. Every problem is reported, not the first only: the error lists them one per line,
// each an *Error starting with where the value was given ("FILE:LINE:COL" or "--set K=V");
// see Problems. When a value failed to decode the returned Config is the zero value (and the error
// lists the invalid values that did decode too); when only validation failed it is the decoded
// config.
func Parse(name string, data []byte, sets []string) (Config, error) {
	c := Default()
	d := decoder{name: name, schema: theSchema(), pos: map[string]string{}, failed: map[string]bool{}, anchors: map[string]ast.Node{}}
	d.document(&c, data)
	for _, s := range sets {
		d.set(&c, s)
	}
	if len(d.probs) > 0 {
		// Report the values that do decode but are invalid too, except for keys that failed to
		// decode (they hold their defaults, which would mislead).
		for _, e := range Problems(d.locate(c.Validate())) {
			var ce *Error
			if errors.As(e, &ce) && !d.failed[ce.Path] {
				d.probs = append(d.probs, e)
			}
		}
		return Config{}, d.probs.err()
	}
	if err := c.Validate(); err != nil {
		return c, d.locate(err)
	}
	return c, nil
}

// decoder holds the state of one Parse.
type decoder struct {
	name    string
	schema  *schema
	probs   problems
	pos     map[string]string // field path -> where its value was given
	failed  map[string]bool   // field paths whose value did not decode
	anchors map[string]ast.Node
}

// at formats the position of tk in the file.
func (d *decoder) at(tk *token.Token) string {
	if tk == nil || tk.Position == nil {
		return d.name
	}
	return fmt.Sprintf("%s:%d:%d", d.name, tk.Position.Line, tk.Position.Column)
}

// locate prefixes each validation problem with where its key's value was given.
func (d *decoder) locate(err error) error {
	var out problems
	for _, e := range Problems(err) {
		var ce *Error
		if errors.As(e, &ce) && ce.Pos == "" {
			cp := *ce
			cp.Pos = d.where(ce)
			e = &cp
		}
		out = append(out, e)
	}
	return out.err()
}

// where returns where the value of the problem's key was given. A rule between keys names
// several; then a --set among them wins (the user just changed it), then the problem's own key,
// then any other key the message names.
func (d *decoder) where(e *Error) string {
	named := []string{e.Path}
	for _, sec := range d.schema.sections {
		for _, f := range sec.fields {
			if f.path != e.Path && mentions(e.Msg, f.path) {
				named = append(named, f.path)
			}
		}
	}
	for _, path := range named {
		if p := d.pos[path]; strings.HasPrefix(p, "--set ") {
			return p
		}
	}
	for _, path := range named {
		if p, ok := d.pos[path]; ok {
			return p
		}
	}
	return ""
}

// mentions reports whether msg names the key path as a whole word.
func mentions(msg, path string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], path)
		if j < 0 {
			return false
		}
		end := i + j + len(path)
		if end == len(msg) || !(msg[end] == '_' || msg[end] >= 'a' && msg[end] <= 'z') {
			return true
		}
		i = end
	}
}

// document decodes the YAML file data into c, recording problems and where each value came from.
func (d *decoder) document(c *Config, data []byte) {
	f, err := parseYAML(data)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			d.probs.add(d.at(ye.GetToken()), "", ErrSyntax, "%s", ye.GetMessage())
		} else {
			d.probs.add(d.name, "", ErrSyntax, "%s", err.Error())
		}
		return
	}
	var body ast.Node
	for i, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			tk := doc.Start
			if tk == nil {
				tk = doc.Body.GetToken()
			}
			d.probs.add(d.at(tk), "", ErrSyntax, "a config file holds one YAML document; this is document %d", i+1)
			return
		}
		body = doc.Body
	}
	if body == nil {
		return // empty: all defaults
	}
	body = d.deref(body)
	if _, ok := body.(*ast.NullNode); ok {
		return
	}
	entries, ok := mapping(body)
	if !ok {
		d.probs.add(d.at(body.GetToken()), "", ErrType, "the top level must be a mapping of sections (%s), got %s",
			strings.Join(d.schema.sectionNames(), ", "), describe(body))
		return
	}
	v := reflect.ValueOf(c).Elem()
	for _, e := range entries {
		name, ok := d.key(e)
		if !ok {
			continue
		}
		sec, ok := d.schema.byName[name]
		if !ok {
			d.probs.add(d.at(e.Key.GetToken()), "", ErrUnknownKey, "%s", d.schema.unknownKey("", name))
			continue
		}
		d.section(v, sec, e.Value)
	}
}

// parseYAML parses data, turning a panic of the parser into an error: a config file, however
// broken, must not crash the program.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// key returns the text of a mapping key, reporting keys that are not plain strings.
func (d *decoder) key(e *ast.MappingValueNode) (string, bool) {
	switch k := e.Key.(type) {
	case *ast.MergeKeyNode:
		d.probs.add(d.at(k.GetToken()), "", ErrSyntax, "merge keys (<<) are not supported; write the keys out")
		return "", false
	case *ast.StringNode:
		return k.Value, true
	case ast.ScalarNode:
		return k.GetToken().Value, true
	}
	d.probs.add(d.at(e.Key.GetToken()), "", ErrSyntax, "a key must be a plain name, got %s", describe(e.Key))
	return "", false
}

func (d *decoder) section(cfg reflect.Value, sec *section, n ast.Node) {
	n = d.deref(n)
	if _, ok := n.(*ast.NullNode); ok {
		return // "train:" with nothing under it
	}
	entries, ok := mapping(n)
	if !ok {
		d.probs.add(d.at(n.GetToken()), sec.name, ErrType, "%s must be a mapping of keys, got %s", sec.name, describe(n))
		return
	}
	for _, e := range entries {
		key, ok := d.key(e)
		if !ok {
			continue
		}
		f, ok := sec.byKey[key]
		if !ok {
			d.probs.add(d.at(e.Key.GetToken()), "", ErrUnknownKey, "%s", d.schema.unknownKey(sec.name, key))
			continue
		}
		val := d.deref(e.Value)
		if val == nil {
			val = ast.Null(e.Key.GetToken())
		}
		where := d.at(valueToken(e, val))
		if msg := decodeNode(cfg.FieldByIndex(f.index), f, val); msg != "" {
			d.probs.add(where, f.path, ErrType, "%s", msg)
			d.failed[f.path] = true
			continue
		}
		d.pos[f.path] = where
	}
}

// deref unwraps anchors, aliases and tags down to the node holding the value.
func (d *decoder) deref(n ast.Node) ast.Node {
	for range 100 { // bounded: aliases cannot loop, but be safe
		switch t := n.(type) {
		case *ast.AnchorNode:
			if t.Name != nil {
				d.anchors[t.Name.GetToken().Value] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			if t.Value == nil {
				return n
			}
			target, ok := d.anchors[t.Value.GetToken().Value]
			if !ok {
				return n
			}
			n = target
		case *ast.TagNode:
			n = t.Value
		default:
			return n
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// valueToken returns the token to point at for the value of entry e: the value itself, the first
// key of a mapping, or the entry's key when the value is missing (null).
func valueToken(e *ast.MappingValueNode, val ast.Node) *token.Token {
	switch v := val.(type) {
	case *ast.NullNode:
		return e.Key.GetToken()
	case *ast.MappingNode:
		if len(v.Values) > 0 {
			return v.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		return v.Key.GetToken()
	}
	return val.GetToken()
}

// mapping returns the entries of a mapping node.
func mapping(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// describe names what a node holds, for "got ..." in errors.
func describe(n ast.Node) string {
	switch t := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.AliasNode:
		return "an undefined alias"
	case *ast.LiteralNode:
		return strconv.Quote(t.Value.Value)
	case ast.ScalarNode:
		return strconv.Quote(t.GetToken().Value)
	}
	return "a " + strings.ToLower(n.Type().String())
}

// plain reports whether a scalar was written without quotes, so that 1e-3 reads as a number
// (the YAML parser leaves floats without a dot as strings) but "1e-3" stays a string.
func plain(n ast.Node) bool {
	tk := n.GetToken()
	return tk != nil && tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType
}

// decodeNode stores the value of n into v, a field of kind f.kind, or returns the problem.
func decodeNode(v reflect.Value, f *field, n ast.Node) string {
	bad := func() string { return fmt.Sprintf("%s must be %s, got %s", f.path, f.kind.want(), describe(n)) }
	switch f.kind {
	case kindString:
		switch t := n.(type) {
		case *ast.NullNode:
			v.SetString("")
		case *ast.StringNode:
			v.SetString(t.Value)
		case *ast.LiteralNode:
			v.SetString(t.Value.Value)
		case ast.ScalarNode:
			v.SetString(t.GetToken().Value)
		default:
			return bad()
		}
	case kindInt, kindUint:
		x, msg := nodeInt(n, f)
		if msg != "" {
			return msg
		}
		if f.kind == kindUint {
			v.SetUint(uint64(x))
		} else {
			v.SetInt(x)
		}
	case kindFloat:
		var x float64
		switch t := n.(type) {
		case *ast.FloatNode:
			x = t.Value
		case *ast.IntegerNode:
			switch i := t.Value.(type) {
			case int64:
				x = float64(i)
			case uint64:
				x = float64(i)
			}
		case *ast.InfinityNode:
			x = t.Value
		case *ast.NanNode:
			x = math.NaN()
		case *ast.StringNode:
			var err error
			if x, err = strconv.ParseFloat(t.Value, 64); err != nil || !plain(t) {
				return bad()
			}
		default:
			return bad()
		}
		v.SetFloat(x)
	case kindBool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			return bad()
		}
		v.SetBool(b.Value)
	case kindInts:
		var out []int
		switch t := n.(type) {
		case *ast.NullNode:
		case *ast.SequenceNode:
			out = make([]int, 0, len(t.Values))
			for i, e := range t.Values {
				ef := &field{path: fmt.Sprintf("%s[%d]", f.path, i), kind: kindInt}
				x, msg := nodeInt(e, ef)
				if msg != "" {
					return msg
				}
				out = append(out, int(x))
			}
		default:
			return bad()
		}
		v.Set(reflect.ValueOf(out))
	}
	return ""
}

// nodeInt reads an integer (or a float with an integral value, such as 2e3) from n.
func nodeInt(n ast.Node, f *field) (int64, string) {
	bad := func() (int64, string) {
		return 0, fmt.Sprintf("%s must be %s, got %s", f.path, f.kind.want(), describe(n))
	}
	var x int64
	switch t := n.(type) {
	case *ast.IntegerNode:
		switch i := t.Value.(type) {
		case int64:
			x = i
		case uint64:
			if f.kind == kindUint {
				return int64(i), "" // the caller reinterprets the bits as uint64
			}
			if i > math.MaxInt64 {
				return 0, fmt.Sprintf("%s is out of range, got %s", f.path, describe(n))
			}
			x = int64(i)
		default:
			return bad()
		}
	case *ast.FloatNode:
		var msg string
		if x, msg = integral(t.Value, f, n); msg != "" {
			return 0, msg
		}
	case *ast.StringNode:
		fl, err := strconv.ParseFloat(t.Value, 64)
		if err != nil || !plain(t) {
			return bad()
		}
		var msg string
		if x, msg = integral(fl, f, n); msg != "" {
			return 0, msg
		}
	default:
		return bad()
	}
	if f.kind == kindUint && x < 0 {
		return bad()
	}
	return x, ""
}

// integral converts a float that holds an exact integer.
func integral(fl float64, f *field, n ast.Node) (int64, string) {
	if fl != math.Trunc(fl) || math.IsInf(fl, 0) || math.IsNaN(fl) {
		return 0, fmt.Sprintf("%s must be %s, got %s", f.path, f.kind.want(), describe(n))
	}
	if math.Abs(fl) > 1<<53 {
		return 0, fmt.Sprintf("%s is out of range, got %s", f.path, describe(n))
	}
	return int64(fl), ""
}
