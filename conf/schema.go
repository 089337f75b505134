package conf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// kind is the type of a leaf field, as the decoder and the docs see it.
type kind int

const (
	kindString kind = iota
	kindInt
	kindUint
	kindFloat
	kindBool
	kindInts
)

// want is how an error says which values a field of this kind takes.
func (k kind) want() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindUint:
		return "a non-negative integer"
	case kindFloat:
		return "a number"
	case kindBool:
		return "true or false"
	case kindInts:
		return "a list of integers"
	default:
		return "a string"
	}
}

// name is the type's name in docs/config.md.
func (k kind) name() string {
	switch k {
	case kindInt:
		return "int"
	case kindUint:
		return "uint64"
	case kindFloat:
		return "float"
	case kindBool:
		return "bool"
	case kindInts:
		return "list of int"
	default:
		return "string"
	}
}

// field is one leaf of the schema: section.key.
type field struct {
	path    string // "train.steps"
	section string // "train"
	key     string // "steps"
	goName  string // "Train.Steps"
	index   []int  // reflect index from Config
	kind    kind
}

// section is one top-level mapping of the YAML form.
type section struct {
	name   string
	goName string
	fields []*field
	byKey  map[string]*field
}

// schema is the list of sections and fields of Config, read once from its struct tags.
type schema struct {
	sections []*section
	byName   map[string]*section
	byPath   map[string]*field
}

var theSchema = sync.OnceValue(buildSchema)

func buildSchema() *schema {
	s := &schema{byName: map[string]*section{}, byPath: map[string]*field{}}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		sf := t.Field(i)
		sec := &section{name: yamlName(sf), goName: sf.Name, byKey: map[string]*field{}}
		for j := range sf.Type.NumField() {
			ff := sf.Type.Field(j)
			f := &field{
				section: sec.name,
				key:     yamlName(ff),
				goName:  sf.Name + "." + ff.Name,
				index:   []int{i, j},
				kind:    kindOf(ff.Type),
			}
			f.path = sec.name + "." + f.key
			sec.fields = append(sec.fields, f)
			sec.byKey[f.key] = f
			s.byPath[f.path] = f
		}
		s.sections = append(s.sections, sec)
		s.byName[sec.name] = sec
	}
	return s
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		panic("conf: field " + f.Name + " has no yaml tag")
	}
	return name
}

func kindOf(t reflect.Type) kind {
	switch t.Kind() {
	case reflect.String:
		return kindString
	case reflect.Int:
		return kindInt
	case reflect.Uint64:
		return kindUint
	case reflect.Float64:
		return kindFloat
	case reflect.Bool:
		return kindBool
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Int {
			return kindInts
		}
	}
	panic("conf: unsupported field type " + t.String())
}

// sectionNames lists the sections in schema order, for messages.
func (s *schema) sectionNames() []string {
	names := make([]string, len(s.sections))
	for i, sec := range s.sections {
		names[i] = sec.name
	}
	return names
}

// enums lists the allowed values of the string fields that take one of a fixed set.
var enums = map[string][]string{
	"model.kind":          {"gpt", "mlp"},
	"data.kind":           {"addition", "text", "csv"},
	"data.tokenizer":      {"char", "bpe"},
	"train.optimizer":     {"adamw", "sgd"},
	"allreduce.wire":      {"float32", "bfloat16", "float16"},
	"allreduce.transport": {"grpc", "tcp"},
}

// aliases maps names that users of nanoGPT, PyTorch or Hugging Face might write to the key Craft
// calls that; the decoder suggests the Craft key when it meets one.
var aliases = map[string]string{
	"lr":                          "train.learning_rate",
	"max_iters":                   "train.steps",
	"max_steps":                   "train.steps",
	"iters":                       "train.steps",
	"batch_size":                  "train.global_batch",
	"warmup_iters":                "train.warmup_steps",
	"lr_decay_iters":              "train.decay_steps",
	"eval_interval":               "train.eval_every",
	"eval_iters":                  "train.eval_batches",
	"gradient_accumulation_steps": "train.grad_accum",
	"grad_norm_clip":              "train.grad_clip",
	"max_grad_norm":               "train.grad_clip",
	"context_length":              "model.block_size",
	"n_ctx":                       "model.block_size",
	"n_embed":                     "model.n_embd",
	"d_model":                     "model.n_embd",
	"n_heads":                     "model.n_head",
	"n_layers":                    "model.n_layer",
	"out_dir":                     "run.out_dir",
	"seed":                        "run.seed",
	"vocab_size":                  "data.bpe_vocab_size",
	"world_size":                  "cluster.min_workers",
	"workers":                     "cluster.local_workers",
	"checkpoint_every":            "checkpoint.every",
	"save_every":                  "checkpoint.every",
}

// SchemaHash returns a hash of the schema: every key and its type. Two
// binaries with the same hash read every configuration alike, so a
// coordinator refuses workers whose hash differs.
func SchemaHash() string {
	h := sha256.New()
	for _, sec := range theSchema().sections {
		for _, f := range sec.fields {
			fmt.Fprintf(h, "%s:%s\n", f.path, f.kind.name())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
