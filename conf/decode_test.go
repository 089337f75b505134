package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeCases are files (and overrides) that Parse refuses, with the exact error it returns,
// one problem per line. The fuzz test starts from them.
var decodeCases = []struct {
	name string
	yaml string
	sets []string
	want string
	is   error // a sentinel the error matches
}{
	{
		name: "unknown key with suggestion",
		yaml: "train:\n  lerning_rate: 0.1\n",
		want: `x.yaml:2:3: unknown key "lerning_rate" in train (did you mean "learning_rate"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "unknown key, transposed letters",
		yaml: "model:\n  n_haed: 4\n",
		want: `x.yaml:2:3: unknown key "n_haed" in model (did you mean "n_head"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "key of another section",
		yaml: "model:\n  learning_rate: 0.1\n",
		want: `x.yaml:2:3: unknown key "learning_rate" in model (did you mean "train.learning_rate"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "nanoGPT name",
		yaml: "train:\n  max_iters: 5000\n",
		want: `x.yaml:2:3: unknown key "max_iters" in train (did you mean "steps"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "nanoGPT name in the wrong section",
		yaml: "model:\n  batch_size: 12\n",
		want: `x.yaml:2:3: unknown key "batch_size" in model (did you mean "train.global_batch"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "unknown key without suggestion",
		yaml: "checkpoint:\n  zzz: 1\n",
		want: `x.yaml:2:3: unknown key "zzz" in checkpoint (keys: every, keep, path)`,
		is:   ErrUnknownKey,
	},
	{
		name: "unknown section",
		yaml: "trian:\n  steps: 1\n",
		want: `x.yaml:1:1: unknown section "trian" (did you mean "train"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "key at the top level",
		yaml: "steps: 10\n",
		want: `x.yaml:1:1: unknown section "steps" (did you mean "train.steps", in section train?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "string for an integer",
		yaml: "train:\n  steps: abc\n",
		want: `x.yaml:2:10: train.steps must be an integer, got "abc"`,
		is:   ErrType,
	},
	{
		name: "fraction for an integer",
		yaml: "train:\n  steps: 1.5\n",
		want: `x.yaml:2:10: train.steps must be an integer, got "1.5"`,
		is:   ErrType,
	},
	{
		name: "quoted number",
		yaml: "train:\n  learning_rate: \"1e-3\"\n",
		want: `x.yaml:2:18: train.learning_rate must be a number, got "1e-3"`,
		is:   ErrType,
	},
	{
		name: "yes is not a bool",
		yaml: "model:\n  bias: yes\n",
		want: `x.yaml:2:9: model.bias must be true or false, got "yes"`,
		is:   ErrType,
	},
	{
		name: "negative seed",
		yaml: "run:\n  seed: -1\n",
		want: `x.yaml:2:9: run.seed must be a non-negative integer, got "-1"`,
		is:   ErrType,
	},
	{
		name: "list element",
		yaml: "model:\n  hidden: [256, x]\n",
		want: `x.yaml:2:11: model.hidden[1] must be an integer, got "x"`,
		is:   ErrType,
	},
	{
		name: "mapping for a number",
		yaml: "train:\n  steps:\n    a: 1\n",
		want: `x.yaml:3:5: train.steps must be an integer, got a mapping`,
		is:   ErrType,
	},
	{
		name: "null for a number",
		yaml: "train:\n  steps:\n",
		want: `x.yaml:2:3: train.steps must be an integer, got null`,
		is:   ErrType,
	},
	{
		name: "section is a scalar",
		yaml: "train: 5\n",
		want: `x.yaml:1:8: train must be a mapping of keys, got "5"`,
		is:   ErrType,
	},
	{
		name: "top level is a list",
		yaml: "- a\n- b\n",
		want: `x.yaml:1:1: the top level must be a mapping of sections (run, model, data, train, cluster, checkpoint, allreduce), got a list`,
		is:   ErrType,
	},
	{
		name: "syntax error",
		yaml: "train:\n  steps: [1,\n",
		want: `x.yaml:2:10: sequence end token ']' not found`,
		is:   ErrSyntax,
	},
	{
		name: "duplicate key",
		yaml: "train:\n  steps: 1\n  steps: 2\n",
		want: `x.yaml:3:3: mapping key "steps" already defined at [2:3]`,
		is:   ErrSyntax,
	},
	{
		name: "two documents",
		yaml: "train:\n  steps: 1\n---\ntrain:\n  steps: 2\n",
		want: `x.yaml:3:1: a config file holds one YAML document; this is document 2`,
		is:   ErrSyntax,
	},
	{
		name: "merge key",
		yaml: "base: &b {steps: 1}\ntrain:\n  <<: *b\n",
		want: "x.yaml:1:1: unknown section \"base\" (sections: run, model, data, train, cluster, checkpoint, allreduce)\n" +
			`x.yaml:3:3: merge keys (<<) are not supported; write the keys out`,
		is: ErrSyntax,
	},
	{
		name: "every problem at once, invalid values too",
		yaml: "train:\n  lerning_rate: 1\n  steps: abc\n  warmup_steps: -5\nmodel:\n  n_embd: 100\n  n_head: 3\n",
		want: `x.yaml:2:3: unknown key "lerning_rate" in train (did you mean "learning_rate"?)` + "\n" +
			`x.yaml:3:10: train.steps must be an integer, got "abc"` + "\n" +
			`x.yaml:6:11: model.n_embd (100) must be divisible by model.n_head (3)` + "\n" +
			`x.yaml:4:17: train.warmup_steps (-5) must be at least 0`,
		is: ErrInvalid,
	},
	{
		name: "set: unknown key",
		sets: []string{"train.lerning_rate=1"},
		want: `--set train.lerning_rate=1: unknown key "lerning_rate" in train (did you mean "learning_rate"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "set: wrong type",
		sets: []string{"train.steps=abc"},
		want: `--set train.steps=abc: train.steps must be an integer`,
		is:   ErrType,
	},
	{
		name: "set: bad list",
		sets: []string{"model.hidden=[256,x]"},
		want: `--set model.hidden=[256,x]: model.hidden[1] must be an integer`,
		is:   ErrType,
	},
	{
		name: "set: no value",
		sets: []string{"train.steps"},
		want: `--set train.steps: want SECTION.KEY=VALUE, e.g. train.steps=100`,
		is:   ErrSyntax,
	},
	{
		name: "set: a section",
		sets: []string{"train=1"},
		want: `--set train=1: train is a section; set one of its keys, e.g. train.global_batch`,
		is:   ErrUnknownKey,
	},
	{
		name: "set: unknown section",
		sets: []string{"trian.steps=1"},
		want: `--set trian.steps=1: unknown section "trian" (did you mean "train"?)`,
		is:   ErrUnknownKey,
	},
	{
		name: "set: invalid value",
		sets: []string{"model.n_head=3"},
		want: `--set model.n_head=3: model.n_embd (128) must be divisible by model.n_head (3)`,
		is:   ErrInvalid,
	},
	{
		name: "set: invalid value given in the file",
		yaml: "model:\n  n_embd: 100\n",
		sets: []string{"model.kind=gtp"},
		want: `--set model.kind=gtp: model.kind ("gtp") must be one of gpt, mlp (did you mean "gpt"?)`,
		is:   ErrInvalid,
	},
	{
		name: "file and set problems together",
		yaml: "data:\n  digits: 0\n",
		sets: []string{"train.beta2=1"},
		want: `x.yaml:2:11: data.digits (0) must be between 1 and 9` + "\n" +
			`--set train.beta2=1: train.beta2 (1) must be in [0, 1)`,
		is: ErrInvalid,
	},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml), tc.sets)
			if err == nil {
				t.Fatalf("Parse(%q, %q) = nil error; want %q", tc.yaml, tc.sets, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q, %q) error =\n%s\nwant\n%s", tc.yaml, tc.sets, got, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(Parse(%q, %q), %v) = false; want true", tc.yaml, tc.sets, tc.is)
			}
			if n, want := len(Problems(err)), strings.Count(tc.want, "\n")+1; n != want {
				t.Errorf("len(Problems(Parse(%q))) = %d; want %d", tc.yaml, n, want)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		sets []string
		edit func(c *Config) // the expected change from Default
	}{
		{"empty file", "", nil, func(c *Config) {}},
		{"comments only", "# nothing\n", nil, func(c *Config) {}},
		{"empty section", "train:\n", nil, func(c *Config) {}},
		{"float forms", "train:\n  learning_rate: 1e-3\n  min_lr: 3E-5\n  weight_decay: 0\n  grad_clip: 1_000\n", nil, func(c *Config) {
			c.Train.LearningRate, c.Train.MinLR, c.Train.WeightDecay, c.Train.GradClip = 1e-3, 3e-5, 0, 1000
		}},
		{"integral float for an int", "train:\n  steps: 2e3\n  eval_every: 1_000\n", nil, func(c *Config) {
			c.Train.Steps, c.Train.EvalEvery = 2000, 1000
		}},
		{"big seed", "run:\n  seed: 18446744073709551615\n", nil, func(c *Config) { c.Run.Seed = 1<<64 - 1 }},
		{"strings", "run:\n  name: 'abc'\ncluster:\n  join_token: 0123\n  http_addr:\ndata:\n  path: |\n    a b\n", nil, func(c *Config) {
			c.Run.Name, c.Cluster.JoinToken, c.Cluster.HTTPAddr, c.Data.Path = "abc", "0123", "", "a b\n"
		}},
		{"lists", "model:\n  kind: mlp\n  hidden:\n    - 3\n    - 2\ndata:\n  kind: csv\n  path: d.csv\n", nil, func(c *Config) {
			c.Model.Kind, c.Model.Hidden, c.Data.Kind, c.Data.Path = "mlp", []int{3, 2}, "csv", "d.csv"
		}},
		{"empty list", "model:\n  hidden: []\n", nil, func(c *Config) { c.Model.Hidden = []int{} }},
		{"anchors and aliases", "train:\n  steps: &n 500\n  eval_every: *n\n", nil, func(c *Config) {
			c.Train.Steps, c.Train.EvalEvery = 500, 500
		}},
		{"flow mapping", "train: {steps: 7, warmup_steps: 7}\n", nil, func(c *Config) {
			c.Train.Steps, c.Train.WarmupSteps = 7, 7
		}},
		{"tags", "train:\n  steps: !!int 900\n", nil, func(c *Config) { c.Train.Steps = 900 }},
		{"sets override the file in order", "train:\n  steps: 10\n", []string{"train.steps=20", "train.steps=300", "run.name=yes", "model.bias=TRUE"}, func(c *Config) {
			c.Train.Steps, c.Run.Name, c.Model.Bias = 300, "yes", true
		}},
		{"set lists", "", []string{"model.hidden=[256, 128]", "train.steps=1_000", "data.path="}, func(c *Config) {
			c.Model.Hidden, c.Train.Steps, c.Data.Path = []int{256, 128}, 1000, ""
		}},
		{"set list without brackets", "", []string{"model.hidden=4,5"}, func(c *Config) { c.Model.Hidden = []int{4, 5} }},
		{"set empty list", "", []string{"model.hidden=[]"}, func(c *Config) { c.Model.Hidden = []int{} }},
		{"set value with =", "", []string{"cluster.join_token=a=b"}, func(c *Config) { c.Cluster.JoinToken = "a=b" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("x.yaml", []byte(tc.yaml), tc.sets)
			if err != nil {
				t.Fatalf("Parse(%q, %q) error: %v", tc.yaml, tc.sets, err)
			}
			want := Default()
			tc.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q, %q) =\n%s\nwant\n%s", tc.yaml, tc.sets, got.YAML(), want.YAML())
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load(missing) = %v; want an error naming the file", err)
	}
}

func TestSuggestions(t *testing.T) {
	tests := []struct {
		s    string
		want string
		ok   bool
	}{
		{"lerning_rate", "learning_rate", true},
		{"learningrate", "learning_rate", true},
		{"LEARNING_RATE", "learning_rate", true},
		{"stpes", "steps", true},
		{"xyz", "", false},
		{"warmup", "", false},
	}
	keys := []string{"learning_rate", "min_lr", "steps", "eval_every"}
	for _, tc := range tests {
		got, ok := closest(tc.s, keys)
		if got != tc.want || ok != tc.ok {
			t.Errorf("closest(%q) = %q, %v; want %q, %v", tc.s, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"trian", "train", 1}, {"ab", "ba", 1}} {
		if got := levenshtein(tc.a, tc.b); got != tc.want {
			t.Errorf("levenshtein(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
