package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/craftml/craft/model"
)

// tinyBench are the flags of a small GPT for the bench command tests.
var tinyBench = []string{"--conf", "../../conf/shakespeare-baby.yaml", "--vocab", "16", "--threads", "1",
	"--set", "model.n_layer=1", "--set", "model.n_head=2", "--set", "model.n_embd=16", "--set", "model.block_size=8",
	"--set", "train.global_batch=3"}

func TestBenchStep(t *testing.T) {
	args := append([]string{"bench", "step", "--steps", "3", "--warmup", "2", "--json"}, tinyBench...)
	code, out, errOut := craft(t, args...)
	if code != 0 {
		t.Fatalf("craft %v: exit %d, stderr %s", args, code, errOut)
	}
	var r stepBenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("craft bench step --json printed %q: %v", out, err)
	}
	if r.Vocab != 16 || r.Batch != 3 || r.Block != 8 || r.TokensPerStep != 24 || r.Steps != 3 || r.Threads != 1 {
		t.Errorf("craft bench step = %+v; want vocab 16, batch 3×8, 3 steps, 1 thread", r)
	}
	if !(r.TokensPerS > 0) || !(r.GFLOPs > 0) || math.IsNaN(r.Loss) {
		t.Errorf("craft bench step = %+v; want positive speed and a finite loss", r)
	}
	// A steady-state training step allocates nothing (issue 3); the race
	// detector's instrumentation allocates, so that is checked without it.
	if r.AllocsPerStep != 0 && !raceEnabled {
		t.Errorf("craft bench step allocs/step = %v; want 0", r.AllocsPerStep)
	}
}

func TestBenchParity(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"bench", "parity", "--out", dir}, tinyBench...)
	if code, _, errOut := craft(t, args...); code != 0 {
		t.Fatalf("craft %v: exit %d, stderr %s", args, code, errOut)
	}
	js, err := os.ReadFile(filepath.Join(dir, "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b parityBatch
	if err := json.Unmarshal(js, &b); err != nil {
		t.Fatalf("batch.json: %v", err)
	}
	if b.B != 3 || b.T != 8 || len(b.Tokens) != 24 || len(b.Targets) != 24 || b.Config.VocabSize != 16 {
		t.Errorf("batch.json = %+v; want a 3×8 batch of a 16-token vocabulary", b)
	}
	if math.Abs(b.Loss-b.LossSum/float64(b.Count)) > 1e-12 || b.Count < 1 || b.Count > 24 {
		t.Errorf("batch.json loss %v, sum %v, count %d; want loss = sum/count", b.Loss, b.LossSum, b.Count)
	}
	// Both files load back into a GPT of the same shape.
	g, err := model.NewGPT(model.GPTConfig{VocabSize: 16, BlockSize: 8, NLayer: 1, NHead: 2, NEmbd: 16, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"params.safetensors", "grads.safetensors"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		err = g.Arena().ReadSafetensors(f)
		f.Close()
		if err != nil {
			t.Errorf("ReadSafetensors(%s) = %v", name, err)
		}
	}
}
