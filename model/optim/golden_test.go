package optim

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// torchGolden is testdata/torch_golden.json, written by bench/optim_golden.py
// with PyTorch's own AdamW, SGD, clip_grad_norm_ and nanoGPT's get_lr.
type torchGolden struct {
	Torch    string  `json:"torch"`
	N        int     `json:"n"`
	DecayLen int     `json:"decay_len"`
	Clip     float64 `json:"clip"`
	Schedule struct {
		MaxLR       float64 `json:"max_lr"`
		MinLR       float64 `json:"min_lr"`
		WarmupSteps int     `json:"warmup_steps"`
		DecaySteps  int     `json:"decay_steps"`
	} `json:"schedule"`
	AdamW struct {
		Beta1, Beta2, Eps float64
		WeightDecay       float64 `json:"weight_decay"`
	} `json:"adamw_config"`
	SGD struct {
		Momentum    float64
		WeightDecay float64 `json:"weight_decay"`
	} `json:"sgd_config"`
	LRs     []float64   `json:"lrs"`
	Params0 []float32   `json:"params0"`
	Grads   [][]float32 `json:"grads"`
	Norms   []float64   `json:"norms"`
	AdamWP  []float64   `json:"adamw"`
	SGDP    []float64   `json:"sgd"`
}

// TestTorchGolden replays PyTorch's run: same inputs, same schedule, same
// clipping; parameters must agree to a few float32 ulps.
func TestTorchGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/torch_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g torchGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("testdata/torch_golden.json: %v", err)
	}
	sched := Schedule{MaxLR: g.Schedule.MaxLR, MinLR: g.Schedule.MinLR, WarmupSteps: g.Schedule.WarmupSteps, DecaySteps: g.Schedule.DecaySteps}
	for it, want := range g.LRs {
		if got := sched.LR(it); math.Abs(got-want) > 1e-15 {
			t.Errorf("LR(%d) = %v; torch's get_lr %v", it, got, want)
		}
	}
	groups := []Group{{Offset: 0, Len: g.DecayLen, Decay: true}, {Offset: g.DecayLen, Len: g.N - g.DecayLen}}
	opts := []struct {
		name string
		opt  Optimizer
		want []float64
	}{
		{"adamw", NewAdamW(AdamWConfig{Beta1: g.AdamW.Beta1, Beta2: g.AdamW.Beta2, Eps: g.AdamW.Eps, WeightDecay: g.AdamW.WeightDecay}, g.N, groups), g.AdamWP},
		{"sgd", NewSGD(SGDConfig{Momentum: g.SGD.Momentum, WeightDecay: g.SGD.WeightDecay}, g.N, groups), g.SGDP},
	}
	for _, o := range opts {
		t.Run(o.name, func(t *testing.T) {
			p := slices.Clone(g.Params0)
			for it, grads := range g.Grads {
				grads = slices.Clone(grads)
				norm := ClipGlobalNorm(grads, g.Clip)
				if math.Abs(norm-g.Norms[it]) > 1e-6*g.Norms[it] {
					t.Errorf("step %d: ClipGlobalNorm = %v; torch %v", it, norm, g.Norms[it])
				}
				o.opt.Step(it+1, sched.LR(it), p, grads)
			}
			for i := range p {
				if d := math.Abs(float64(p[i]) - o.want[i]); d > 4e-7*math.Max(1, math.Abs(o.want[i])) {
					t.Errorf("p[%d] after %d steps = %v; torch %s %v (diff %g)", i, len(g.Grads), p[i], g.Torch, o.want[i], d)
				}
			}
		})
	}
}
