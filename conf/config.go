package conf

import "path/filepath"

// Config is the whole configuration of a run: what to train, on what data, how, on which cluster.
// Its YAML form has one section per field. The zero value is not useful; start from Default or
// Parse.
//
// The comment on each field below is its documentation: docs/config.md is generated from it (run
// `go generate ./conf`), and a test fails when the two drift apart.
type Config struct {
	Run        Run        `yaml:"run"`
	Model      Model      `yaml:"model"`
	Data       Data       `yaml:"data"`
	Train      Train      `yaml:"train"`
	Cluster    Cluster    `yaml:"cluster"`
	Checkpoint Checkpoint `yaml:"checkpoint"`
	AllReduce  AllReduce  `yaml:"allreduce"`
}

// Run names a run and says where its files go.
type Run struct {
	// Name of the run; its files go to out_dir/name. Letters, digits, '.', '_' and '-' only.
	Name string `yaml:"name"`
	// Seed of every random choice: initial weights, data split, batch order, dropout.
	Seed uint64 `yaml:"seed"`
	// Directory under which each run gets its own directory, relative to the working directory.
	OutDir string `yaml:"out_dir"`
}

// Model chooses the network and its size.
type Model struct {
	// Network: gpt (a nanoGPT-style decoder-only transformer) or mlp (a multi-layer perceptron).
	Kind string `yaml:"kind"`
	// Number of transformer blocks (gpt).
	NLayer int `yaml:"n_layer"`
	// Number of attention heads per block (gpt); must divide n_embd.
	NHead int `yaml:"n_head"`
	// Width of the residual stream (gpt).
	NEmbd int `yaml:"n_embd"`
	// Context length in tokens (gpt); 0 = the width of one sample of the data (addition only).
	BlockSize int `yaml:"block_size"`
	// Dropout probability during training (gpt), in [0, 1); 0 = off.
	Dropout float64 `yaml:"dropout"`
	// Use biases in Linear and LayerNorm layers (gpt), as GPT-2 does.
	Bias bool `yaml:"bias"`
	// Sizes of the hidden layers (mlp), input side first, e.g. [256, 128]; [] = a linear classifier.
	Hidden []int `yaml:"hidden"`
}

// Data chooses the dataset and how it is split and tokenized.
type Data struct {
	// Source: addition (the synthetic n-digit addition task), text (a text file, for a language model) or csv (a table of numeric features with the class label in the last column, for a classifier).
	Kind string `yaml:"kind"`
	// File to read (text, csv); relative paths are relative to the working directory.
	Path string `yaml:"path"`
	// Tokenizer of a text file: char (one token per distinct character) or bpe (byte-level BPE trained on the file).
	Tokenizer string `yaml:"tokenizer"`
	// Vocabulary size of the bpe tokenizer, at least 256 (the bytes).
	BPEVocabSize int `yaml:"bpe_vocab_size"`
	// Fraction of the samples held out for validation, in (0, 1).
	ValFraction float64 `yaml:"val_fraction"`
	// Digits of each operand of the addition task, 1 to 9.
	Digits int `yaml:"digits"`
	// The first line of the csv file is a header to skip.
	CSVHeader bool `yaml:"csv_header"`
}

// Train sets the optimisation: batch, steps, optimizer, learning-rate schedule, evaluation.
type Train struct {
	// Samples per optimizer step, summed over all workers (each worker gets a share).
	GlobalBatch int `yaml:"global_batch"`
	// Optimizer steps of the run.
	Steps int `yaml:"steps"`
	// Optimizer: adamw or sgd (with momentum).
	Optimizer string `yaml:"optimizer"`
	// Peak learning rate, reached at the end of the warm-up.
	LearningRate float64 `yaml:"learning_rate"`
	// Learning rate at the end of the cosine decay, in [0, learning_rate].
	MinLR float64 `yaml:"min_lr"`
	// Steps of linear warm-up from 0 to learning_rate; at most steps.
	WarmupSteps int `yaml:"warmup_steps"`
	// Step at which the cosine decay reaches min_lr (it stays there after); 0 = steps.
	DecaySteps int `yaml:"decay_steps"`
	// Decoupled weight decay (adamw) or L2 penalty (sgd), applied to 2-D weights only.
	WeightDecay float64 `yaml:"weight_decay"`
	// AdamW's first-moment decay, in [0, 1).
	Beta1 float64 `yaml:"beta1"`
	// AdamW's second-moment decay, in [0, 1).
	Beta2 float64 `yaml:"beta2"`
	// SGD momentum, in [0, 1); 0 = plain SGD.
	Momentum float64 `yaml:"momentum"`
	// Clip the global gradient norm to this value; 0 = off.
	GradClip float64 `yaml:"grad_clip"`
	// Micro-batches each worker accumulates per step (its share is split among them).
	GradAccum int `yaml:"grad_accum"`
	// Evaluate on the validation split every this many steps, and at the end; 0 = only at the end.
	EvalEvery int `yaml:"eval_every"`
	// Batches of global_batch samples per evaluation.
	EvalBatches int `yaml:"eval_batches"`
	// Compute threads per worker; 0 = all cores.
	Threads int `yaml:"threads"`
	// Stop after this many evaluations without a better validation loss; 0 = off.
	EarlyStopPatience int `yaml:"early_stop_patience"`
}

// Cluster sets the addresses of the coordinator and the number of workers.
type Cluster struct {
	// gRPC address (host:port) of the coordinator; workers join it. Port 0 = any free port.
	CoordinatorAddr string `yaml:"coordinator_addr"`
	// Gossip (memberlist) address (host:port) of this process. Port 0 = any free port.
	GossipAddr string `yaml:"gossip_addr"`
	// HTTP address (host:port) of /status, /metrics and the dashboard; "" = off. Port 0 = any free port.
	HTTPAddr string `yaml:"http_addr"`
	// Workers needed before training starts (and to go on after a failure).
	MinWorkers int `yaml:"min_workers"`
	// Most workers in the ring; further ones wait as spares. 0 = no limit.
	MaxWorkers int `yaml:"max_workers"`
	// Workers started in the coordinator's process (craft train); 0 = remote workers only.
	LocalWorkers int `yaml:"local_workers"`
	// Secret a worker must present to join; "" = anyone may join.
	JoinToken string `yaml:"join_token"`
}

// Checkpoint sets how often the coordinator saves the training state and how many it keeps.
type Checkpoint struct {
	// Save a checkpoint every this many steps (and at the end); 0 = only at the end.
	Every int `yaml:"every"`
	// Checkpoints kept; older ones are deleted.
	Keep int `yaml:"keep"`
	// bbolt file of the checkpoints; "" = out_dir/name/craft.db.
	Path string `yaml:"path"`
}

// AllReduce tunes the ring all-reduce of the gradients.
type AllReduce struct {
	// Bytes per pipelined segment on the wire, a multiple of 4, at most 3 MiB over grpc (its messages stay under
	// 4 MiB) and 64 MiB over tcp.
	SegmentBytes int `yaml:"segment_bytes"`
	// Number format of gradients on the wire: float32 (exact), bfloat16 or float16 (half the bytes, rounded).
	Wire string `yaml:"wire"`
	// How ring neighbours exchange gradients: grpc (a gRPC stream to each neighbour) or tcp (plain TCP,
	// a Unix socket between workers on one host, with an HMAC handshake keyed by cluster.join_token:
	// fewer copies and syscalls, see bench/README.md).
	Transport string `yaml:"transport"`
}

// Default returns a fresh Config holding the default of every field: a small GPT on the 2-digit
// addition task, trained with AdamW, one worker. A file or --set overrides start from it.
func Default() Config {
	return Config{
		Run: Run{Name: "craft", Seed: 1337, OutDir: "runs"},
		Model: Model{
			Kind: "gpt", NLayer: 2, NHead: 4, NEmbd: 128, BlockSize: 0,
			Dropout: 0, Bias: false, Hidden: []int{128},
		},
		Data: Data{
			Kind: "addition", Tokenizer: "char", BPEVocabSize: 512,
			ValFraction: 0.1, Digits: 2,
		},
		Train: Train{
			GlobalBatch: 64, Steps: 2000, Optimizer: "adamw",
			LearningRate: 1e-3, MinLR: 1e-4, WarmupSteps: 100, DecaySteps: 0,
			WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.99, Momentum: 0.9, GradClip: 1.0,
			GradAccum: 1, EvalEvery: 100, EvalBatches: 10, Threads: 0,
		},
		Cluster: Cluster{
			CoordinatorAddr: "127.0.0.1:7070", GossipAddr: "127.0.0.1:7946",
			HTTPAddr: "127.0.0.1:8080", MinWorkers: 1, MaxWorkers: 0, LocalWorkers: 1,
		},
		Checkpoint: Checkpoint{Every: 500, Keep: 3},
		AllReduce:  AllReduce{SegmentBytes: 1 << 20, Wire: "float32", Transport: "grpc"},
	}
}

// CheckpointPath returns checkpoint.path, or out_dir/name/craft.db when it is empty.
func (c Config) CheckpointPath() string {
	if c.Checkpoint.Path != "" {
		return c.Checkpoint.Path
	}
	return filepath.Join(c.RunDir(), "craft.db")
}

// RunDir returns the directory of the run's files, out_dir/name.
func (c Config) RunDir() string {
	return filepath.Join(c.Run.OutDir, c.Run.Name)
}

// EffectiveDecaySteps returns train.decay_steps, or train.steps when it is 0.
func (c Config) EffectiveDecaySteps() int {
	if c.Train.DecaySteps == 0 {
		return c.Train.Steps
	}
	return c.Train.DecaySteps
}
