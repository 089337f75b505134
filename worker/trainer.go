package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
	"github.com/craftml/craft/model/optim"
)

// Reducer sums a buffer element-wise across every rank of the current ring,
// in place. call numbers the call: 4·step + k for the k-th call made after
// step optimizer steps, the same on every rank whatever its history, so it
// fences one call from the next. AllReduce blocks until the sum is in buf or
// ctx ends. It is called from one goroutine at a time.
type Reducer interface {
	AllReduce(ctx context.Context, call uint64, buf []float32) error
}

// BucketReducer is a Reducer that also sums a buffer handed over in parts,
// reducing each part while the caller computes the next: the trainer
// overlaps the gradient's all-reduce with the backward pass through it.
// Start is called from one goroutine at a time, after the previous
// operation's Wait.
type BucketReducer interface {
	Reducer
	// Start begins the sum of total elements, numbered call as AllReduce's.
	Start(ctx context.Context, call uint64, total int) BucketOp
}

// BucketOp is one sum of a BucketReducer. Submit the parts, whose lengths add
// up to the total given to Start, in the same order and of the same lengths
// on every rank; each is summed in place and must not be touched until Wait
// returns. Wait, called exactly once after the last Submit, blocks until every
// part holds the sum or the operation failed. allreduce.Op implements it.
type BucketOp interface {
	Submit(part []float32)
	Wait() error
}

// gradHooker is a model that tells as Backward finishes each part of the
// gradient (model.GPT.SetGradHook).
type gradHooker interface {
	SetGradHook(f func(lo, hi int))
}

// Local is the Reducer of a run with a single rank: the sum is the buffer.
type Local struct{}

// AllReduce returns at once: with one rank, buf already holds the sum.
func (Local) AllReduce(context.Context, uint64, []float32) error { return nil }

// Config is the training loop's configuration.
type Config struct {
	Rank, Ranks     int            // this replica's place in the ring, and the ring's size
	GlobalBatch     int            // samples per step, over all ranks
	MicroBatch      int            // rows per forward pass (gradient accumulation splits a share into these)
	Steps           int            // total optimizer steps of the run
	Schedule        optim.Schedule // learning rate per step
	GradClip        float64        // max global gradient norm; 0 = no clipping
	EvalEvery       int            // steps between evaluations; 0 = only at the end
	EvalBatches     int            // global batches per periodic evaluation
	CheckpointEvery int            // steps between checkpoints; 0 = only at the end
	Seed            uint64         // the run's seed (dropout masks derive from it)
	// SerialReduce sums the gradient after backward, even over a reducer
	// that could take it part by part during backward: for a worker with no
	// core to spare, where the ring's work during backward only interrupts
	// the compute (see Node). The sums are the same either way.
	SerialReduce bool
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Ranks < 1 || c.Rank < 0 || c.Rank >= c.Ranks:
		return fmt.Errorf("worker: rank %d of %d ranks", c.Rank, c.Ranks)
	case c.GlobalBatch < c.Ranks:
		return fmt.Errorf("worker: global batch %d smaller than %d ranks", c.GlobalBatch, c.Ranks)
	case c.MicroBatch < 1:
		return fmt.Errorf("worker: micro batch %d must be positive", c.MicroBatch)
	case c.Steps < 0:
		return fmt.Errorf("worker: steps %d must not be negative", c.Steps)
	case c.EvalEvery < 0 || c.EvalBatches < 0 || c.CheckpointEvery < 0:
		return errors.New("worker: eval_every, eval_batches and checkpoint every must not be negative")
	}
	return nil
}

// StepStats describes one completed optimizer step, identical on every rank.
type StepStats struct {
	Step     int           // the step just completed, 1-based
	Loss     float64       // mean loss over the global batch
	LR       float64       // learning rate applied
	GradNorm float64       // global gradient norm before clipping
	Tokens   int           // loss targets in the global batch
	Local    int           // loss targets in this rank's share
	Samples  int           // samples in the global batch
	Compute  time.Duration // forward and backward on this rank
	Reduce   time.Duration // waiting on the all-reduce
	Update   time.Duration // clipping and the optimizer
}

// Trainer runs training steps on one replica. It is not safe for concurrent
// use.
type Trainer struct {
	cfg     Config
	model   model.Model
	opt     optim.Optimizer
	src     dataset.Source
	red     Reducer
	sampler *dataset.Sampler

	state State    // step, history: what a checkpoint restores
	meta  Snapshot // the configuration stamped on snapshots

	global []int            // the step's global batch of sample indices
	batch  model.Batch      // one micro-batch; its slices are views of full
	full   model.Batch      // the micro-batch buffers at their full size
	pred   []int32          // predictions of one micro-batch
	stats  [4]float32       // reduced beside the gradient: loss sum, count, correct, total
	x, y   []int32          // one sample
	feats  []float32        // one sample's features
	evalIx []int            // the validation samples a periodic evaluation uses
	op     BucketOp         // the gradient's sum while Backward runs
	submit func(lo, hi int) // the grad hook: submits Grads[lo:hi] to op
	mean   []float32        // per-feature mean and standard deviation over Train: tables are standardised
	std    []float32
}

// NewTrainer makes a trainer for model m, optimizer opt and source src,
// summing gradients through red (Local{} for one rank).
func NewTrainer(cfg Config, m model.Model, opt optim.Optimizer, src dataset.Source, red Reducer) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src.Len(dataset.Train) == 0 {
		return nil, errors.New("worker: the dataset has no training samples")
	}
	w := src.Width()
	t := &Trainer{
		cfg: cfg, model: m, opt: opt, src: src, red: red,
		sampler: dataset.NewSampler(cfg.Seed, src.Len(dataset.Train), cfg.GlobalBatch),
		global:  make([]int, cfg.GlobalBatch),
		x:       make([]int32, w),
		y:       make([]int32, w),
	}
	b := &t.full
	mb := cfg.MicroBatch
	b.Seeds = make([]uint64, mb)
	if src.Task() == dataset.LM {
		b.T = w
		b.Tokens = make([]int32, mb*w)
		b.Targets = make([]int32, mb*w)
		t.pred = make([]int32, mb*w)
	} else {
		b.T = 1
		b.Features = make([]float32, mb*w)
		b.Targets = make([]int32, mb)
		t.pred = make([]int32, mb)
		t.feats = make([]float32, w)
	}
	t.batch = t.full
	t.submit = func(lo, hi int) { t.op.Submit(t.model.Arena().Grads[lo:hi]) }
	if fs, ok := src.(dataset.FeatureStats); ok {
		t.mean, t.std = fs.FeatureStats()
	}
	t.evalIx = evalIndices(cfg.Seed, src.Len(dataset.Val), cfg.EvalBatches*cfg.GlobalBatch)
	return t, nil
}

// Step returns the number of optimizer steps completed so far.
func (t *Trainer) Step() int { return t.state.Step }

// State returns the trainer's restorable state.
func (t *Trainer) State() State { return t.state.clone() }

// SetRing moves the trainer to another ring (a new membership generation):
// its rank, the ring size and the reducer that sums over it. The global
// batch does not change; only this rank's share of it does.
func (t *Trainer) SetRing(rank, ranks int, red Reducer) error {
	c := t.cfg
	c.Rank, c.Ranks = rank, ranks
	if err := c.Validate(); err != nil {
		return err
	}
	t.cfg, t.red = c, red
	return nil
}

// TrainStep runs one optimizer step: this rank's share of the global batch,
// the all-reduce, clipping and the update.
func (t *Trainer) TrainStep(ctx context.Context) (StepStats, error) {
	step := t.state.Step
	a := t.model.Arena()
	start := time.Now()
	t.sampler.Batch(step, t.global)
	off, n := dataset.Share(t.cfg.GlobalBatch, t.cfg.Ranks, t.cfg.Rank)
	if err := t.prefetch(ctx, dataset.Train, t.global[off:off+n]); err != nil {
		return StepStats{}, err
	}
	a.ZeroGrad()
	// With several ranks, a reducer that takes parts and a model that
	// reports them, the last micro-batch's Backward hands each part of the
	// gradient to the all-reduce as soon as it is final, and the loss
	// statistics ride as the last part of the same operation.
	br, bucketed := t.red.(BucketReducer)
	hk, hooked := t.model.(gradHooker)
	overlap := bucketed && hooked && t.cfg.Ranks > 1 && !t.cfg.SerialReduce
	var lossSum float64
	var count int
	for lo := 0; lo < n; lo += t.cfg.MicroBatch {
		rows := min(t.cfg.MicroBatch, n-lo)
		t.fill(dataset.Train, t.global[off+lo:off+lo+rows], step, off+lo)
		ls, c := t.model.Forward(&t.batch, true)
		lossSum += ls
		count += c
		if !overlap || lo+rows < n {
			t.model.Backward(1)
			continue
		}
		t.stats = [4]float32{float32(lossSum), float32(count)}
		t.op = br.Start(ctx, t.call(callGrads), len(a.Grads)+2)
		hk.SetGradHook(t.submit)
		t.model.Backward(1)
		hk.SetGradHook(nil)
		t.op.Submit(t.stats[:2])
	}
	compute := time.Since(start)

	start = time.Now()
	if overlap {
		err := t.op.Wait()
		t.op = nil
		if err != nil {
			return StepStats{}, fmt.Errorf("all-reduce at step %d: %w", t.state.Step+1, err)
		}
	} else {
		t.stats = [4]float32{float32(lossSum), float32(count)}
		if err := t.reduce(ctx, callGrads, a.Grads); err != nil {
			return StepStats{}, err
		}
		if err := t.reduce(ctx, callStats, t.stats[:2]); err != nil {
			return StepStats{}, err
		}
	}
	reduce := time.Since(start)

	start = time.Now()
	total := int(t.stats[1])
	if total == 0 {
		return StepStats{}, fmt.Errorf("worker: step %d has no loss targets in its global batch", step+1)
	}
	optim.Scale(a.Grads, 1/float32(total))
	norm := optim.ClipGlobalNorm(a.Grads, t.cfg.GradClip)
	lr := t.cfg.Schedule.LR(step)
	t.opt.Step(step+1, lr, a.Params, a.Grads)
	t.state.Step++
	loss := float64(t.stats[0]) / float64(total)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return StepStats{}, fmt.Errorf("worker: loss is %v at step %d (lower train.learning_rate?)", loss, step+1)
	}
	t.state.LastLoss = loss
	return StepStats{
		Step: t.state.Step, Loss: loss, LR: lr, GradNorm: norm,
		Tokens: total, Local: count, Samples: t.cfg.GlobalBatch,
		Compute: compute, Reduce: reduce, Update: time.Since(start),
	}, nil
}

// The calls a step makes, in order.
const (
	callGrads    = iota // the gradient
	callStats           // loss sum and target count
	callEval            // evaluation counts
	callsPerStep = 4
)

// call numbers the k-th reduction of the current step.
func (t *Trainer) call(k int) uint64 { return uint64(t.state.Step)*callsPerStep + uint64(k) }

func (t *Trainer) reduce(ctx context.Context, k int, buf []float32) error {
	if err := t.red.AllReduce(ctx, t.call(k), buf); err != nil {
		return fmt.Errorf("all-reduce at step %d: %w", t.state.Step+1, err)
	}
	return nil
}

// fill loads samples idx of split into the micro-batch. pos is the position
// of idx[0] in the step's global batch: dropout seeds derive from (seed,
// step, position), so they do not depend on how ranks share the batch.
func (t *Trainer) fill(split dataset.Split, idx []int, step, pos int) {
	b, f := &t.batch, &t.full
	n := len(idx)
	b.B = n
	b.Seeds = f.Seeds[:n]
	b.Targets = f.Targets[:n*b.T]
	if f.Tokens != nil {
		b.Tokens = f.Tokens[:n*b.T]
	} else {
		b.Features = f.Features[:n*t.src.Width()]
	}
	w := t.src.Width()
	for r, i := range idx {
		b.Seeds[r] = mix(t.cfg.Seed, uint64(step), uint64(pos+r))
		if t.src.Task() == dataset.LM {
			t.src.Sample(split, i, b.Tokens[r*w:(r+1)*w], b.Targets[r*w:(r+1)*w], nil)
			continue
		}
		f := b.Features[r*w : (r+1)*w]
		t.src.Sample(split, i, t.x, t.y, f)
		b.Targets[r] = t.y[0]
		if t.mean != nil {
			for j := range f {
				f[j] = (f[j] - t.mean[j]) / t.std[j]
			}
		}
	}
}

// Prefetcher is a Source whose samples must be loaded before Sample reads
// them (dataset.ShardedSource fetches shards from the coordinator).
type Prefetcher interface {
	Prefetch(ctx context.Context, s dataset.Split, indices []int) error
}

// prefetch loads the samples idx of split if the source needs it.
func (t *Trainer) prefetch(ctx context.Context, split dataset.Split, idx []int) error {
	p, ok := t.src.(Prefetcher)
	if !ok {
		return nil
	}
	if err := p.Prefetch(ctx, split, idx); err != nil {
		return fmt.Errorf("fetch the %s samples of step %d: %w", split, t.state.Step+1, err)
	}
	return nil
}

// mix hashes its arguments into one seed (SplitMix64 steps).
func mix(vs ...uint64) uint64 {
	var h uint64 = 0x9e3779b97f4a7c15
	for _, v := range vs {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
