package model

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenLosses trains a tiny GPT (bias and dropout on) with plain SGD
// from a fixed seed and holds its first losses to testdata: any change to
// the initialisation, the layers, dropout seeding or the loss shows up
// here. Regenerate with go test -run GoldenLosses -update and review the
// diff. The tolerance (1e-5 relative) covers CPUs that take the Go rather
// than the SIMD kernels.
func TestGoldenLosses(t *testing.T) {
	cfg := GPTConfig{VocabSize: 11, BlockSize: 8, NLayer: 2, NHead: 2, NEmbd: 16, Dropout: 0.1, Bias: true, MaxBatch: 4, Seed: 42}
	g, err := NewGPT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	a := g.Arena()
	var got []float64
	b := randomBatch(rng, 4, 8, 11, true) // one batch, learnt by heart
	for range 10 {
		for i := range b.Seeds {
			b.Seeds[i] = rng.Uint64() // new dropout masks each step
		}
		a.ZeroGrad()
		l, n := g.Forward(b, true)
		g.Backward(1 / float32(n))
		got = append(got, l/float64(n))
		for i := range a.Params {
			a.Params[i] -= 0.5 * a.Grads[i]
		}
	}
	path := filepath.Join("testdata", "tiny_gpt_losses.golden")
	if *update {
		var buf bytes.Buffer
		fmt.Fprintln(&buf, "# mean loss of each SGD step of TestGoldenLosses")
		for _, l := range got {
			fmt.Fprintf(&buf, "%.9g\n", l)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (go test -run GoldenLosses -update writes it): %v", err)
	}
	var want []float64
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("golden file: %v", err)
		}
		want = append(want, v)
	}
	if len(want) != len(got) {
		t.Fatalf("golden file holds %d losses; want %d", len(want), len(got))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-5*math.Abs(want[i]) {
			t.Errorf("loss of step %d = %.9g; want %.9g", i, got[i], want[i])
		}
	}
	if got[len(got)-1] >= got[0] {
		t.Errorf("loss went from %.4g to %.4g; want it to fall", got[0], got[len(got)-1])
	}
}
