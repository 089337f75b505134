package conf

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// MaxSegmentBytes keeps one all-reduce segment, with its header, under gRPC's default 4 MiB
// message limit. MaxSegmentBytesTCP bounds a segment over the plain-TCP transport, which reads
// a segment straight into its destination and has no such limit.
const (
	MaxSegmentBytes    = 3 << 20
	MaxSegmentBytesTCP = 64 << 20
)

// MaxSegment is the largest allreduce.segment_bytes the ring transport kind carries.
func MaxSegment(transport string) int {
	if transport == "tcp" {
		return MaxSegmentBytesTCP
	}
	return MaxSegmentBytes
}

// Validate checks every field and the rules between fields, and reports every problem at once:
// the error lists them one per line, each an *Error naming the key (see Problems) and matching
// ErrInvalid. Parse and Load call it and add where each bad value was given.
func (c Config) Validate() error {
	v := validator{}

	// run
	if c.Run.Name == "" {
		v.bad("run.name", "run.name must not be empty")
	} else if strings.Trim(c.Run.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || c.Run.Name == "." || c.Run.Name == ".." {
		v.bad("run.name", "run.name (%q) may hold only letters, digits, '.', '_' and '-'", c.Run.Name)
	}
	if c.Run.OutDir == "" {
		v.bad("run.out_dir", "run.out_dir must not be empty (use . for the working directory)")
	}

	// model
	m := c.Model
	v.enum("model.kind", m.Kind)
	if m.Kind == "gpt" {
		v.positive("model.n_layer", m.NLayer)
		v.positive("model.n_head", m.NHead)
		v.positive("model.n_embd", m.NEmbd)
		if m.NHead > 0 && m.NEmbd > 0 && m.NEmbd%m.NHead != 0 {
			v.bad("model.n_embd", "model.n_embd (%d) must be divisible by model.n_head (%d)", m.NEmbd, m.NHead)
		}
		switch {
		case m.BlockSize < 0:
			v.bad("model.block_size", "model.block_size (%d) must be positive, or 0 for the sample width of the addition task", m.BlockSize)
		case m.BlockSize == 0 && c.Data.Kind == "text":
			v.bad("model.block_size", "model.block_size must be set (positive) for data.kind text; 0 means the sample width of the addition task only")
		case m.BlockSize > 0 && c.Data.Kind == "addition" && c.Data.Digits >= 1 && c.Data.Digits <= 9 && m.BlockSize < 3*c.Data.Digits+2:
			v.bad("model.block_size", "model.block_size (%d) must be at least %d, the sample width of %d-digit addition (or 0 for exactly that)", m.BlockSize, 3*c.Data.Digits+2, c.Data.Digits)
		}
		if c.Data.Kind == "csv" {
			v.bad("model.kind", "model.kind gpt needs a token stream (data.kind addition or text), not data.kind csv; use model.kind mlp")
		}
	}
	if m.Kind == "mlp" {
		for i, h := range m.Hidden {
			if h <= 0 {
				v.bad("model.hidden", "model.hidden[%d] (%d) must be positive", i, h)
			}
		}
		if c.Data.Kind == "addition" || c.Data.Kind == "text" {
			v.bad("model.kind", "model.kind mlp needs a table (data.kind csv), not data.kind %s; use model.kind gpt", c.Data.Kind)
		}
	}
	v.fraction("model.dropout", m.Dropout, true)

	// data
	d := c.Data
	v.enum("data.kind", d.Kind)
	if (d.Kind == "text" || d.Kind == "csv") && d.Path == "" {
		v.bad("data.path", "data.path is required for data.kind %s", d.Kind)
	}
	v.enum("data.tokenizer", d.Tokenizer)
	if d.Tokenizer == "bpe" && d.BPEVocabSize < 256 {
		v.bad("data.bpe_vocab_size", "data.bpe_vocab_size (%d) must be at least 256 (one token per byte)", d.BPEVocabSize)
	}
	if d.BPEVocabSize < 0 || d.BPEVocabSize > 1<<20 {
		v.bad("data.bpe_vocab_size", "data.bpe_vocab_size (%d) must be between 256 and %d", d.BPEVocabSize, 1<<20)
	}
	if !(d.ValFraction > 0 && d.ValFraction < 1) {
		v.bad("data.val_fraction", "data.val_fraction (%s) must be in (0, 1)", num(d.ValFraction))
	}
	if d.Digits < 1 || d.Digits > 9 {
		v.bad("data.digits", "data.digits (%d) must be between 1 and 9", d.Digits)
	}

	// train
	t := c.Train
	v.positive("train.global_batch", t.GlobalBatch)
	v.positive("train.steps", t.Steps)
	v.enum("train.optimizer", t.Optimizer)
	if !(t.LearningRate > 0) || math.IsInf(t.LearningRate, 0) {
		v.bad("train.learning_rate", "train.learning_rate (%s) must be positive", num(t.LearningRate))
	}
	if !(t.MinLR >= 0) || math.IsInf(t.MinLR, 0) {
		v.bad("train.min_lr", "train.min_lr (%s) must be at least 0", num(t.MinLR))
	} else if t.MinLR > t.LearningRate && t.LearningRate > 0 {
		v.bad("train.min_lr", "train.min_lr (%s) must be at most train.learning_rate (%s)", num(t.MinLR), num(t.LearningRate))
	}
	if t.WarmupSteps < 0 {
		v.bad("train.warmup_steps", "train.warmup_steps (%d) must be at least 0", t.WarmupSteps)
	} else if t.WarmupSteps > t.Steps && t.Steps > 0 {
		v.bad("train.warmup_steps", "train.warmup_steps (%d) must be at most train.steps (%d)", t.WarmupSteps, t.Steps)
	}
	if t.DecaySteps < 0 {
		v.bad("train.decay_steps", "train.decay_steps (%d) must be at least 0 (0 = train.steps)", t.DecaySteps)
	} else if t.DecaySteps > 0 && t.DecaySteps <= t.WarmupSteps {
		v.bad("train.decay_steps", "train.decay_steps (%d) must be more than train.warmup_steps (%d), or 0 for train.steps", t.DecaySteps, t.WarmupSteps)
	}
	v.nonNegative("train.weight_decay", t.WeightDecay)
	v.fraction("train.beta1", t.Beta1, true)
	v.fraction("train.beta2", t.Beta2, true)
	v.fraction("train.momentum", t.Momentum, true)
	v.nonNegative("train.grad_clip", t.GradClip)
	v.positive("train.grad_accum", t.GradAccum)
	v.atLeast0("train.eval_every", t.EvalEvery)
	v.positive("train.eval_batches", t.EvalBatches)
	v.atLeast0("train.threads", t.Threads)
	v.atLeast0("train.early_stop_patience", t.EarlyStopPatience)
	if t.EarlyStopPatience > 0 && t.EvalEvery == 0 {
		v.bad("train.early_stop_patience", "train.early_stop_patience (%d) needs evaluations: set train.eval_every", t.EarlyStopPatience)
	}

	// cluster
	k := c.Cluster
	v.addr("cluster.coordinator_addr", k.CoordinatorAddr, false)
	v.addr("cluster.gossip_addr", k.GossipAddr, false)
	v.addr("cluster.http_addr", k.HTTPAddr, true)
	v.positive("cluster.min_workers", k.MinWorkers)
	if k.MaxWorkers < 0 {
		v.bad("cluster.max_workers", "cluster.max_workers (%d) must be at least 0 (0 = no limit)", k.MaxWorkers)
	} else if k.MaxWorkers > 0 && k.MaxWorkers < k.MinWorkers {
		v.bad("cluster.max_workers", "cluster.max_workers (%d) must be at least cluster.min_workers (%d), or 0 for no limit", k.MaxWorkers, k.MinWorkers)
	}
	v.atLeast0("cluster.local_workers", k.LocalWorkers)
	if t.GlobalBatch > 0 {
		if k.MinWorkers > t.GlobalBatch {
			v.bad("train.global_batch", "train.global_batch (%d) must be at least cluster.min_workers (%d): every worker needs a sample per step", t.GlobalBatch, k.MinWorkers)
		}
		if k.MaxWorkers > t.GlobalBatch {
			v.bad("train.global_batch", "train.global_batch (%d) must be at least cluster.max_workers (%d): every worker needs a sample per step", t.GlobalBatch, k.MaxWorkers)
		}
		if k.LocalWorkers > t.GlobalBatch {
			v.bad("train.global_batch", "train.global_batch (%d) must be at least cluster.local_workers (%d): every worker needs a sample per step", t.GlobalBatch, k.LocalWorkers)
		}
	}

	// checkpoint
	v.atLeast0("checkpoint.every", c.Checkpoint.Every)
	v.positive("checkpoint.keep", c.Checkpoint.Keep)

	// allreduce
	sb := c.AllReduce.SegmentBytes
	if maxSB := MaxSegment(c.AllReduce.Transport); sb < 4 || sb%4 != 0 || sb > maxSB {
		v.bad("allreduce.segment_bytes", "allreduce.segment_bytes (%d) must be a multiple of 4 between 4 and %d over allreduce.transport %s",
			sb, maxSB, c.AllReduce.Transport)
	}
	v.enum("allreduce.wire", c.AllReduce.Wire)
	v.enum("allreduce.transport", c.AllReduce.Transport)

	return v.probs.err()
}

// validator collects the problems of one Validate.
type validator struct{ probs problems }

func (v *validator) bad(path, format string, args ...any) {
	v.probs.add("", path, ErrInvalid, format, args...)
}

func (v *validator) positive(path string, x int) {
	if x <= 0 {
		v.bad(path, "%s (%d) must be positive", path, x)
	}
}

func (v *validator) atLeast0(path string, x int) {
	if x < 0 {
		v.bad(path, "%s (%d) must be at least 0", path, x)
	}
}

func (v *validator) nonNegative(path string, x float64) {
	if !(x >= 0) || math.IsInf(x, 0) {
		v.bad(path, "%s (%s) must be a finite number at least 0", path, num(x))
	}
}

// fraction checks x in [0, 1) (or [0, 1] when open is false).
func (v *validator) fraction(path string, x float64, open bool) {
	if !(x >= 0 && (x < 1 || !open && x == 1)) {
		if open {
			v.bad(path, "%s (%s) must be in [0, 1)", path, num(x))
		} else {
			v.bad(path, "%s (%s) must be in [0, 1]", path, num(x))
		}
	}
}

func (v *validator) enum(path, x string) {
	allowed := enums[path]
	if slices.Contains(allowed, x) {
		return
	}
	msg := fmt.Sprintf("%s (%q) must be one of %s", path, x, strings.Join(allowed, ", "))
	if c, ok := closest(x, allowed); ok && x != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", c)
	}
	v.bad(path, "%s", msg)
}

// addr checks a host:port address; empty is allowed when optional.
func (v *validator) addr(path, a string, optional bool) {
	if a == "" {
		if !optional {
			v.bad(path, "%s must not be empty (host:port)", path)
		}
		return
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		v.bad(path, "%s (%q) must be host:port, e.g. 127.0.0.1:7070 or :7070", path, a)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.bad(path, "%s (%q) has a bad port: want 0 to 65535", path, a)
	}
}

// num formats a float for messages as it would appear in YAML.
func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
