package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/conf"
)

// update rewrites the golden files of this package's tests (go test ./cmd/craft -update).
// Other tests in package main use it too rather than defining their own flag.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// craft runs the command line args and returns its exit code, stdout and stderr.
func craft(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/craft -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update and review the diff):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestConfShowGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"embedded default", []string{"conf", "show"}, "conf_show_default.golden"},
		{"file and sets", []string{"conf", "show", "--conf", "testdata/small.yaml",
			"--set", "model.hidden=[256,128]", "--set", "train.steps=900", "--set", "run.name=golden"}, "conf_show_small.golden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := craft(t, tc.args...)
			if code != 0 {
				t.Fatalf("craft %s: exit %d; want 0; stderr:\n%s", strings.Join(tc.args, " "), code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}

// TestConfShowDefault checks that conf show without --conf prints the embedded default, and
// that its output is itself a config that resolves to the same hash.
func TestConfShowDefault(t *testing.T) {
	_, out, _ := craft(t, "conf", "show")
	want, err := conf.LoadDefault(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "# hash: sha256:"+want.Hash()+"\n") {
		t.Errorf("craft conf show ends %q; want the embedded default's hash %s", out[max(0, len(out)-80):], want.Hash())
	}
	back, err := conf.Parse("shown.yaml", []byte(out), nil)
	if err != nil || back.Hash() != want.Hash() {
		t.Errorf("conf.Parse(craft conf show) = hash %s, %v; want %s, nil", back.Hash(), err, want.Hash())
	}
}

func TestConfValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("model:\n  n_embd: 100\n  n_head: 3\ntrain:\n  lerning_rate: 1e-3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"good file", []string{"--conf", "../../conf/cluster.yaml"}, 0, "../../conf/cluster.yaml: OK\n", ""},
		{"embedded default", nil, 0, "conf/local.yaml (embedded): OK\n", ""},
		{"files as arguments", []string{"../../conf/local.yaml", "../../conf/digits-mlp.yaml"}, 0,
			"../../conf/local.yaml: OK\n../../conf/digits-mlp.yaml: OK\n", ""},
		{"bad file", []string{"--conf", bad}, 1, "",
			bad + `:5:3: unknown key "lerning_rate" in train (did you mean "learning_rate"?)` + "\n" +
				bad + ":2:11: model.n_embd (100) must be divisible by model.n_head (3)\n"},
		{"bad set names the key", []string{"--conf", "../../conf/cluster.yaml", "--set", "train.lerning_rate=1"}, 1, "",
			`--set train.lerning_rate=1: unknown key "lerning_rate" in train (did you mean "learning_rate"?)` + "\n"},
		{"bad set type", []string{"--set", "train.steps=abc"}, 1, "",
			"--set train.steps=abc: train.steps must be an integer\n"},
		{"invalid set value", []string{"--set", "cluster.min_workers=100"}, 1, "",
			"--set cluster.min_workers=100: train.global_batch (64) must be at least cluster.min_workers (100): every worker needs a sample per step\n"},
		{"one good, one bad", []string{"../../conf/local.yaml", bad}, 1, "../../conf/local.yaml: OK\n",
			bad + `:5:3: unknown key "lerning_rate" in train (did you mean "learning_rate"?)` + "\n" +
				bad + ":2:11: model.n_embd (100) must be divisible by model.n_head (3)\n"},
		{"missing file", []string{"--conf", filepath.Join(dir, "nope.yaml")}, 1, "",
			"conf: read config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
		{"both --conf and arguments", []string{"--conf", bad, bad}, 1, "",
			"give the files either with --conf or as arguments, not both\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"conf", "validate"}, tc.args...)
			code, out, errOut := craft(t, args...)
			if code != tc.code || out != tc.stdout || errOut != tc.stderr {
				t.Errorf("craft %s = exit %d, stdout %q, stderr:\n%s\nwant exit %d, stdout %q, stderr:\n%s",
					strings.Join(args, " "), code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestConfFlags checks the helper other commands use to take --conf and --set.
func TestConfFlags(t *testing.T) {
	var got conf.Config
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error { return nil }}
	flags := addConfFlags(cmd)
	cmd.RunE = func(*cobra.Command, []string) error {
		var err error
		got, err = flags.load()
		return err
	}
	cmd.SetArgs([]string{"--conf", "../../conf/digits-mlp.yaml", "--set", "model.hidden=[32,16]", "--set", "train.steps=300"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("load: %v", err)
	}
	if got.Model.Kind != "mlp" || len(got.Model.Hidden) != 2 || got.Model.Hidden[0] != 32 || got.Train.Steps != 300 {
		t.Errorf("load() = model %s hidden %v steps %d; want mlp [32 16] 300", got.Model.Kind, got.Model.Hidden, got.Train.Steps)
	}
}
