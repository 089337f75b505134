package conf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestShippedConfigs validates every config file shipped in conf/.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("shipped configs = %q; want at least local, cluster, shakespeare-baby, digits-mlp", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if _, err := Load(f, nil); err != nil {
				t.Errorf("Load(%s) error:\n%v", f, err)
			}
		})
	}
}

func TestEmbedded(t *testing.T) {
	file, err := os.ReadFile("local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Embedded(), file) {
		t.Errorf("Embedded() differs from local.yaml")
	}
	c, err := LoadDefault(nil)
	if err != nil {
		t.Fatalf("LoadDefault(nil) error: %v", err)
	}
	if c.Data.Kind != "addition" || c.Data.Digits != 2 || c.Model.Kind != "gpt" || c.Cluster.LocalWorkers != 2 {
		t.Errorf("LoadDefault: data %s/%d, model %s, local_workers %d; want addition/2, gpt, 2",
			c.Data.Kind, c.Data.Digits, c.Model.Kind, c.Cluster.LocalWorkers)
	}
	c, err = LoadDefault([]string{"train.steps=5", "train.warmup_steps=1"})
	if err != nil || c.Train.Steps != 5 {
		t.Errorf("LoadDefault(train.steps=5) = steps %d, %v; want 5, nil", c.Train.Steps, err)
	}
}

// TestShakespeareBaby holds conf/shakespeare-baby.yaml to nanoGPT's CPU "baby" settings.
func TestShakespeareBaby(t *testing.T) {
	c, err := Load("shakespeare-baby.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, tr := c.Model, c.Train
	got := []any{m.Kind, m.NLayer, m.NHead, m.NEmbd, m.BlockSize, m.Dropout, c.Data.Kind, c.Data.Tokenizer, c.Data.Path,
		tr.GlobalBatch, tr.Steps, tr.LearningRate, tr.MinLR, tr.WarmupSteps, c.EffectiveDecaySteps(),
		tr.Optimizer, tr.Beta1, tr.Beta2, tr.WeightDecay, tr.GradClip, tr.GradAccum}
	want := []any{"gpt", 4, 4, 128, 64, 0.0, "text", "char", "../shared/datasets/tinyshakespeare.txt",
		12, 2000, 1e-3, 1e-4, 100, 2000,
		"adamw", 0.9, 0.99, 0.1, 1.0, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("shakespeare-baby field %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func TestDigitsMLP(t *testing.T) {
	c, err := Load("digits-mlp.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.Kind != "mlp" || c.Data.Kind != "csv" || c.Data.CSVHeader || c.Data.Path != "../shared/datasets/digits.csv" {
		t.Errorf("digits-mlp: model %s, data %s header %v path %s; want mlp, csv without header, ../shared/datasets/digits.csv",
			c.Model.Kind, c.Data.Kind, c.Data.CSVHeader, c.Data.Path)
	}
}

func TestPaths(t *testing.T) {
	c := Default()
	if got, want := c.CheckpointPath(), filepath.Join("runs", "craft", "craft.db"); got != want {
		t.Errorf("CheckpointPath() = %q; want %q", got, want)
	}
	c.Checkpoint.Path = "x.db"
	if got := c.CheckpointPath(); got != "x.db" {
		t.Errorf("CheckpointPath() with checkpoint.path x.db = %q; want x.db", got)
	}
	if got := c.EffectiveDecaySteps(); got != c.Train.Steps {
		t.Errorf("EffectiveDecaySteps() = %d; want train.steps %d", got, c.Train.Steps)
	}
}
