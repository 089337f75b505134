package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
	"github.com/craftml/craft/model/optim"
	"github.com/craftml/craft/worker"
)

// stepBenchOptions are the flags of `craft bench step`.
type stepBenchOptions struct {
	threads, steps, warmup, vocab int
	json                          bool
	cpuProfile                    string
}

// stepBenchResult is what `craft bench step` measures (its --json output).
type stepBenchResult struct {
	Impl          string  `json:"impl"`
	Threads       int     `json:"threads"`
	Steps         int     `json:"steps"`
	Params        int     `json:"params"`
	Vocab         int     `json:"vocab"`
	Batch         int     `json:"batch"`
	Block         int     `json:"block"`
	TokensPerStep int     `json:"tokens_per_step"`
	TokensPerS    float64 `json:"tokens_per_s"`
	MsPerStep     float64 `json:"ms_per_step"` // median
	ForwardMs     float64 `json:"forward_ms"`  // medians of the phases
	BackwardMs    float64 `json:"backward_ms"`
	OptimMs       float64 `json:"optim_ms"` // zero grad, clip and optimizer step
	GFLOPs        float64 `json:"gflops"`   // model.FLOPsPerToken × tokens/s
	AllocsPerStep float64 `json:"allocs_per_step"`
	BytesPerStep  float64 `json:"bytes_per_step"`
	Loss          float64 `json:"loss"`
}

func newBenchStepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "step [--conf FILE] [--threads N] [--steps N] [--warmup N]",
		Short: "Time training steps of the configured GPT: tokens/s, ms/step, GFLOP/s, allocations",
		Long: `craft bench step builds the model and optimizer of the configuration (as craft train does) and
times full training steps on random token batches of train.global_batch × model.block_size:
zero grad, forward, backward, clip by global norm (train.grad_clip), optimizer step. It prints
tokens/s (timed tokens over timed wall time), the median ms per step and of each phase, the
achieved GFLOP/s (model.FLOPsPerToken × tokens/s) and the heap allocations per step.

bench/step.sh runs it beside the same PyTorch step and prints the ratio.`,
		Example: `  craft bench step --conf conf/shakespeare-baby.yaml --threads 1
  craft bench step --conf conf/shakespeare-baby.yaml --threads 2 --steps 50 --json`,
		Args: cobra.NoArgs,
	}
	flags := addConfFlags(cmd)
	var o stepBenchOptions
	cmd.Flags().IntVar(&o.threads, "threads", 0, "threads of the model (0 = train.threads; 0 there = all cores)")
	cmd.Flags().IntVar(&o.steps, "steps", 30, "timed steps")
	cmd.Flags().IntVar(&o.warmup, "warmup", 5, "untimed steps first")
	cmd.Flags().IntVar(&o.vocab, "vocab", 0, "vocabulary size (0 = the dataset's tokenizer)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := flags.load()
		if err != nil {
			return err
		}
		if o.steps < 1 || o.warmup < 0 {
			return fmt.Errorf("--steps %d, --warmup %d: want at least 1 timed step and no negative warm-up", o.steps, o.warmup)
		}
		res, err := benchStep(c, o)
		if err != nil {
			return err
		}
		return printStepBench(cmd.OutOrStdout(), res, o.json)
	}
	return cmd
}

// benchGPT builds the GPT and optimizer of c for batches of c.Train.GlobalBatch
// rows. vocab 0 takes the vocabulary and context from the dataset.
func benchGPT(c conf.Config, vocab int) (*worker.Job, error) {
	if c.Model.Kind != "gpt" {
		return nil, fmt.Errorf("model.kind %q: the step benchmark runs a gpt", c.Model.Kind)
	}
	if vocab == 0 {
		src, err := worker.OpenSource(c)
		if err != nil {
			return nil, fmt.Errorf("%w (or give --vocab)", err)
		}
		return worker.Build(c, src)
	}
	if c.Model.BlockSize == 0 {
		return nil, fmt.Errorf("model.block_size is 0 (the data's width): with --vocab give it too, e.g. --set model.block_size=64")
	}
	src := randomTokens{vocab: vocab, width: c.Model.BlockSize}
	return worker.Build(c, src)
}

func benchStep(c conf.Config, o stepBenchOptions) (stepBenchResult, error) {
	threads := o.threads
	if threads == 0 {
		threads = c.Train.Threads
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	model.SetThreads(threads)
	optim.SetThreads(threads)
	defer optim.SetThreads(1)
	c.Train.GradAccum = 1 // one forward over the global batch per step
	j, err := benchGPT(c, o.vocab)
	if err != nil {
		return stepBenchResult{}, err
	}
	g, opt := j.GPT, j.Optim
	cfg := g.Config()
	a := g.Arena()
	B, T := c.Train.GlobalBatch, cfg.BlockSize
	rng := rand.New(rand.NewPCG(c.Run.Seed, 1))
	batches := make([]model.Batch, 4)
	for i := range batches {
		batches[i] = randomBatch(rng, B, T, cfg.VocabSize, 0)
	}
	decay := c.Train.DecaySteps
	if decay == 0 {
		decay = c.Train.Steps
	}
	sched := optim.Schedule{MaxLR: c.Train.LearningRate, MinLR: c.Train.MinLR, WarmupSteps: c.Train.WarmupSteps, DecaySteps: decay}

	fwd := make([]time.Duration, 0, o.steps)
	bwd := make([]time.Duration, 0, o.steps)
	upd := make([]time.Duration, 0, o.steps)
	all := make([]time.Duration, 0, o.steps)
	var loss float64
	step := func(it int, timed bool) {
		b := &batches[it%len(batches)]
		t0 := time.Now()
		a.ZeroGrad()
		sum, n := g.Forward(b, true)
		t1 := time.Now()
		g.Backward(1 / float32(n))
		t2 := time.Now()
		if c.Train.GradClip > 0 {
			optim.ClipGlobalNorm(a.Grads, c.Train.GradClip)
		}
		opt.Step(it+1, sched.LR(it), a.Params, a.Grads)
		t3 := time.Now()
		loss = sum / float64(n)
		if timed {
			fwd, bwd, upd, all = append(fwd, t1.Sub(t0)), append(bwd, t2.Sub(t1)), append(upd, t3.Sub(t2)), append(all, t3.Sub(t0))
		}
	}
	for it := 0; it < o.warmup; it++ {
		step(it, false)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return stepBenchResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return stepBenchResult{}, err
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for it := o.warmup; it < o.warmup+o.steps; it++ {
		step(it, true)
	}
	total := time.Since(start)
	runtime.ReadMemStats(&after)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	tokens := B * T
	tps := float64(tokens*o.steps) / total.Seconds()
	return stepBenchResult{
		Impl: "craft", Threads: threads, Steps: o.steps, Params: len(a.Params),
		Vocab: cfg.VocabSize, Batch: B, Block: T, TokensPerStep: tokens,
		TokensPerS: tps, MsPerStep: medianMs(all), ForwardMs: medianMs(fwd), BackwardMs: medianMs(bwd), OptimMs: medianMs(upd),
		GFLOPs:        model.FLOPsPerToken(cfg) * tps / 1e9,
		AllocsPerStep: float64(after.Mallocs-before.Mallocs) / float64(o.steps),
		BytesPerStep:  float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps),
		Loss:          loss,
	}, nil
}

func printStepBench(w io.Writer, r stepBenchResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	_, err := fmt.Fprintf(w, `craft bench step: %d params, vocab %d, %d×%d tokens/step, %d threads, %d timed steps
tokens/s     %.0f
ms/step      %.2f (median; forward %.2f, backward %.2f, clip+optimizer %.2f)
GFLOP/s      %.1f
allocs/step  %.1f (%.0f bytes)
loss         %.4f
`, r.Params, r.Vocab, r.Batch, r.Block, r.Threads, r.Steps, r.TokensPerS, r.MsPerStep, r.ForwardMs, r.BackwardMs, r.OptimMs,
		r.GFLOPs, r.AllocsPerStep, r.BytesPerStep, r.Loss)
	return err
}

// randomBatch returns a (b,t) batch of uniform random tokens and targets
// below vocab; a fraction ignore of the targets is -1 (ignored by the loss).
func randomBatch(rng *rand.Rand, b, t, vocab int, ignore float64) model.Batch {
	bt := model.Batch{B: b, T: t, Tokens: make([]int32, b*t), Targets: make([]int32, b*t), Seeds: make([]uint64, b)}
	for i := range bt.Tokens {
		bt.Tokens[i] = int32(rng.IntN(vocab))
		bt.Targets[i] = int32(rng.IntN(vocab))
		if rng.Float64() < ignore {
			bt.Targets[i] = -1
		}
	}
	for i := range bt.Seeds {
		bt.Seeds[i] = rng.Uint64()
	}
	return bt
}

func medianMs(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// randomTokens is a dataset.Source of uniformly random token samples, for
// benchmarking a GPT of a given vocabulary without reading data.
type randomTokens struct{ vocab, width int }

func (r randomTokens) Task() dataset.Task           { return dataset.LM }
func (r randomTokens) Len(dataset.Split) int        { return 1 << 20 }
func (r randomTokens) Width() int                   { return r.width }
func (r randomTokens) Classes() int                 { return r.vocab }
func (r randomTokens) Tokenizer() dataset.Tokenizer { return nil }

// Sample fills x and y with tokens drawn from a generator seeded by (s, i).
func (r randomTokens) Sample(s dataset.Split, i int, x, y []int32, _ []float32) {
	rng := rand.New(rand.NewPCG(uint64(s), uint64(i)))
	for j := 0; j < r.width; j++ {
		x[j], y[j] = int32(rng.IntN(r.vocab)), int32(rng.IntN(r.vocab))
	}
}
