package worker

import (
	"fmt"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
	"github.com/craftml/craft/model/optim"
)

// Job is one replica's model, optimizer and data, built from a resolved
// configuration.
type Job struct {
	Conf   conf.Config
	Source dataset.Source
	Model  model.Model
	GPT    *model.GPT // the model when model.kind is gpt, else nil
	Optim  optim.Optimizer
	Micro  int // rows per forward pass
	// SerialReduce makes its trainers sum the gradient after backward rather
	// than during it (Config.SerialReduce).
	SerialReduce bool
}

// DatasetConfig maps the configuration onto the dataset package's own.
func DatasetConfig(c conf.Config) dataset.Config {
	return dataset.Config{
		Kind: c.Data.Kind, Path: c.Data.Path, Tokenizer: c.Data.Tokenizer,
		BPEVocabSize: c.Data.BPEVocabSize, ValFraction: c.Data.ValFraction,
		Digits: c.Data.Digits, BlockSize: c.Model.BlockSize, CSVHeader: c.Data.CSVHeader,
		Seed: c.Run.Seed,
	}
}

// OpenSource opens the dataset the configuration names.
func OpenSource(c conf.Config) (dataset.Source, error) {
	src, err := dataset.Open(DatasetConfig(c))
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	return src, nil
}

// Build makes the model and optimizer the configuration describes, sized
// for src. Parameters are initialised from run.seed.
func Build(c conf.Config, src dataset.Source) (*Job, error) {
	accum := max(c.Train.GradAccum, 1)
	j := &Job{Conf: c, Source: src, Micro: (c.Train.GlobalBatch + accum - 1) / accum}
	switch c.Model.Kind {
	case "gpt":
		if src.Task() != dataset.LM {
			return nil, fmt.Errorf("model.kind gpt needs a token dataset; data.kind %s is a table", c.Data.Kind)
		}
		block := c.Model.BlockSize
		if block == 0 {
			block = src.Width()
		}
		if block < src.Width() {
			return nil, fmt.Errorf("model.block_size %d is shorter than the dataset's samples (%d tokens)", block, src.Width())
		}
		g, err := model.NewGPT(GPTConfig(c, src.Classes(), block, j.Micro))
		if err != nil {
			return nil, err
		}
		j.Model, j.GPT = g, g
	case "mlp":
		if src.Task() != dataset.Classify {
			return nil, fmt.Errorf("model.kind mlp needs a table (data.kind csv); data.kind is %s", c.Data.Kind)
		}
		m, err := model.NewMLP(model.MLPConfig{
			Inputs: src.Width(), Hidden: c.Model.Hidden, Classes: src.Classes(),
			MaxBatch: j.Micro, Seed: c.Run.Seed,
		})
		if err != nil {
			return nil, err
		}
		j.Model = m
	default:
		return nil, fmt.Errorf("model.kind %q: want gpt or mlp", c.Model.Kind)
	}
	a := j.Model.Arena()
	groups := make([]optim.Group, len(a.Tensors))
	for i, t := range a.Tensors {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		groups[i] = optim.Group{Offset: t.Offset, Len: n, Decay: t.Decay}
	}
	switch c.Train.Optimizer {
	case "sgd":
		j.Optim = optim.NewSGD(optim.SGDConfig{Momentum: c.Train.Momentum, WeightDecay: c.Train.WeightDecay}, len(a.Params), groups)
	default:
		j.Optim = optim.NewAdamW(optim.AdamWConfig{
			Beta1: c.Train.Beta1, Beta2: c.Train.Beta2, Eps: 1e-8, WeightDecay: c.Train.WeightDecay,
		}, len(a.Params), groups)
	}
	return j, nil
}

// TrainerConfig is the training loop's configuration for rank of ranks.
func (j *Job) TrainerConfig(rank, ranks int) Config {
	c := j.Conf
	decay := c.Train.DecaySteps
	if decay == 0 {
		decay = c.Train.Steps
	}
	return Config{
		Rank: rank, Ranks: ranks,
		GlobalBatch: c.Train.GlobalBatch, MicroBatch: j.Micro, Steps: c.Train.Steps,
		Schedule: optim.Schedule{
			MaxLR: c.Train.LearningRate, MinLR: c.Train.MinLR,
			WarmupSteps: c.Train.WarmupSteps, DecaySteps: decay,
		},
		GradClip: c.Train.GradClip, EvalEvery: c.Train.EvalEvery, EvalBatches: c.Train.EvalBatches,
		CheckpointEvery: c.Checkpoint.Every, Seed: c.Run.Seed,
		SerialReduce: j.SerialReduce,
	}
}

// NewTrainer makes the training loop of rank of ranks over red.
func (j *Job) NewTrainer(rank, ranks int, red Reducer) (*Trainer, error) {
	return NewTrainer(j.TrainerConfig(rank, ranks), j.Model, j.Optim, j.Source, red)
}

// GPTConfig is the GPT of configuration c for a vocabulary of vocab tokens,
// a context of block tokens (model.block_size, or the data's sample width
// when that is 0) and micro-batches of maxBatch rows.
func GPTConfig(c conf.Config, vocab, block, maxBatch int) model.GPTConfig {
	if c.Model.BlockSize > 0 {
		block = c.Model.BlockSize
	}
	return model.GPTConfig{
		VocabSize: vocab, BlockSize: block,
		NLayer: c.Model.NLayer, NHead: c.Model.NHead, NEmbd: c.Model.NEmbd,
		Dropout: float32(c.Model.Dropout), Bias: c.Model.Bias,
		MaxBatch: maxBatch, Seed: c.Run.Seed,
	}
}
