package conf

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v; want nil", err)
	}
	a, b := Default(), Default()
	a.Model.Hidden[0] = 1
	if b.Model.Hidden[0] == 1 {
		t.Errorf("Default() shares its Hidden slice between calls; want a fresh value")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string // every problem, one per line
	}{
		{"n_embd not divisible", func(c *Config) { c.Model.NEmbd, c.Model.NHead = 100, 3 },
			"model.n_embd (100) must be divisible by model.n_head (3)"},
		{"sizes", func(c *Config) { c.Model.NLayer, c.Model.NHead, c.Model.NEmbd = 0, -1, 0 },
			"model.n_layer (0) must be positive\nmodel.n_head (-1) must be positive\nmodel.n_embd (0) must be positive"},
		{"enums", func(c *Config) {
			c.Model.Kind, c.Data.Tokenizer, c.Train.Optimizer, c.AllReduce.Wire = "gtp", "", "adam", "fp8"
		},
			`model.kind ("gtp") must be one of gpt, mlp (did you mean "gpt"?)` + "\n" +
				`data.tokenizer ("") must be one of char, bpe` + "\n" +
				`train.optimizer ("adam") must be one of adamw, sgd (did you mean "adamw"?)` + "\n" +
				`allreduce.wire ("fp8") must be one of float32, bfloat16, float16`},
		{"global batch below workers", func(c *Config) { c.Train.GlobalBatch, c.Cluster.MinWorkers, c.Cluster.LocalWorkers = 2, 3, 3 },
			"train.global_batch (2) must be at least cluster.min_workers (3): every worker needs a sample per step\n" +
				"train.global_batch (2) must be at least cluster.local_workers (3): every worker needs a sample per step"},
		{"max below min workers", func(c *Config) { c.Cluster.MinWorkers, c.Cluster.MaxWorkers = 4, 2 },
			"cluster.max_workers (2) must be at least cluster.min_workers (4), or 0 for no limit"},
		{"lr range", func(c *Config) { c.Train.LearningRate, c.Train.MinLR = 1e-4, 1e-3 },
			"train.min_lr (0.001) must be at most train.learning_rate (0.0001)"},
		{"lr not positive", func(c *Config) { c.Train.LearningRate, c.Train.MinLR = 0, -1 },
			"train.learning_rate (0) must be positive\ntrain.min_lr (-1) must be at least 0"},
		{"lr not finite", func(c *Config) { c.Train.LearningRate = math.Inf(1) },
			"train.learning_rate (+Inf) must be positive"},
		{"betas", func(c *Config) { c.Train.Beta1, c.Train.Beta2, c.Train.Momentum = 1, math.NaN(), -0.1 },
			"train.beta1 (1) must be in [0, 1)\ntrain.beta2 (NaN) must be in [0, 1)\ntrain.momentum (-0.1) must be in [0, 1)"},
		{"warmup over steps", func(c *Config) { c.Train.Steps, c.Train.WarmupSteps = 50, 100 },
			"train.warmup_steps (100) must be at most train.steps (50)"},
		{"decay before warmup ends", func(c *Config) { c.Train.DecaySteps = 100 },
			"train.decay_steps (100) must be more than train.warmup_steps (100), or 0 for train.steps"},
		{"dropout", func(c *Config) { c.Model.Dropout = 1 },
			"model.dropout (1) must be in [0, 1)"},
		{"val fraction", func(c *Config) { c.Data.ValFraction = 0 },
			"data.val_fraction (0) must be in (0, 1)"},
		{"path for text", func(c *Config) { c.Data.Kind, c.Model.BlockSize = "text", 64 },
			"data.path is required for data.kind text"},
		{"block size for text", func(c *Config) { c.Data.Kind, c.Data.Path = "text", "x.txt" },
			"model.block_size must be set (positive) for data.kind text; 0 means the sample width of the addition task only"},
		{"block size too small for addition", func(c *Config) { c.Model.BlockSize, c.Data.Digits = 7, 2 },
			"model.block_size (7) must be at least 8, the sample width of 2-digit addition (or 0 for exactly that)"},
		{"digits", func(c *Config) { c.Data.Digits = 10 },
			"data.digits (10) must be between 1 and 9"},
		{"bpe vocab", func(c *Config) { c.Data.Tokenizer, c.Data.BPEVocabSize = "bpe", 100 },
			"data.bpe_vocab_size (100) must be at least 256 (one token per byte)"},
		{"gpt on csv", func(c *Config) { c.Data.Kind, c.Data.Path = "csv", "d.csv" },
			"model.kind gpt needs a token stream (data.kind addition or text), not data.kind csv; use model.kind mlp"},
		{"mlp on addition", func(c *Config) { c.Model.Kind, c.Model.Hidden = "mlp", []int{8, 0} },
			"model.hidden[1] (0) must be positive\nmodel.kind mlp needs a table (data.kind csv), not data.kind addition; use model.kind gpt"},
		{"run", func(c *Config) { c.Run.Name, c.Run.OutDir = "a/b", "" },
			"run.name (\"a/b\") may hold only letters, digits, '.', '_' and '-'\nrun.out_dir must not be empty (use . for the working directory)"},
		{"addresses", func(c *Config) {
			c.Cluster.CoordinatorAddr, c.Cluster.GossipAddr, c.Cluster.HTTPAddr = "", "host", ":99999"
		},
			"cluster.coordinator_addr must not be empty (host:port)\n" +
				`cluster.gossip_addr ("host") must be host:port, e.g. 127.0.0.1:7070 or :7070` + "\n" +
				`cluster.http_addr (":99999") has a bad port: want 0 to 65535`},
		{"early stop without eval", func(c *Config) { c.Train.EvalEvery, c.Train.EarlyStopPatience = 0, 3 },
			"train.early_stop_patience (3) needs evaluations: set train.eval_every"},
		{"counts", func(c *Config) {
			c.Train.GradAccum, c.Train.EvalBatches, c.Train.Threads, c.Checkpoint.Every, c.Checkpoint.Keep = 0, 0, -1, -1, 0
		},
			"train.grad_accum (0) must be positive\ntrain.eval_batches (0) must be positive\ntrain.threads (-1) must be at least 0\n" +
				"checkpoint.every (-1) must be at least 0\ncheckpoint.keep (0) must be positive"},
		{"segment bytes", func(c *Config) { c.AllReduce.SegmentBytes = 6 },
			"allreduce.segment_bytes (6) must be a multiple of 4 between 4 and 3145728 over allreduce.transport grpc"},
		{"segment bytes over grpc", func(c *Config) { c.AllReduce.SegmentBytes = 4 << 20 },
			"allreduce.segment_bytes (4194304) must be a multiple of 4 between 4 and 3145728 over allreduce.transport grpc"},
		{"segment bytes over tcp", func(c *Config) { c.AllReduce.SegmentBytes, c.AllReduce.Transport = 65<<20, "tcp" },
			"allreduce.segment_bytes (68157440) must be a multiple of 4 between 4 and 67108864 over allreduce.transport tcp"},
		{"weight decay and clip", func(c *Config) { c.Train.WeightDecay, c.Train.GradClip = -1, math.Inf(1) },
			"train.weight_decay (-1) must be a finite number at least 0\ntrain.grad_clip (+Inf) must be a finite number at least 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil; want\n%s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tc.want)
			}
			for _, p := range Problems(err) {
				var ce *Error
				if !errors.As(p, &ce) || !errors.Is(p, ErrInvalid) || ce.Path == "" || !strings.Contains(ce.Msg, ce.Path) {
					t.Errorf("problem %q: want an *Error matching ErrInvalid whose message names its Path %q", p, ce.Path)
				}
			}
		})
	}
}

// TestSegmentBytesPerTransport: 4 MiB segments pass over tcp, which reads a
// segment straight into place, and not over grpc, whose messages stay under
// 4 MiB.
func TestSegmentBytesPerTransport(t *testing.T) {
	for _, tc := range []struct {
		transport string
		bytes     int
		ok        bool
	}{
		{"grpc", 3 << 20, true}, {"grpc", 4 << 20, false},
		{"tcp", 4 << 20, true}, {"tcp", 64 << 20, true}, {"tcp", 64<<20 + 4, false},
	} {
		c := Default()
		c.AllReduce.Transport, c.AllReduce.SegmentBytes = tc.transport, tc.bytes
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("segment_bytes %d over %s: Validate() = %v; want ok=%v", tc.bytes, tc.transport, err, tc.ok)
		}
	}
}
