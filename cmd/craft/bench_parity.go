package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/model"
)

// parityBatch is batch.json of `craft bench parity`, read by bench/parity.py.
type parityBatch struct {
	Config struct {
		VocabSize int  `json:"vocab_size"`
		BlockSize int  `json:"block_size"`
		NLayer    int  `json:"n_layer"`
		NHead     int  `json:"n_head"`
		NEmbd     int  `json:"n_embd"`
		Bias      bool `json:"bias"`
	} `json:"config"`
	B       int     `json:"B"`
	T       int     `json:"T"`
	Tokens  []int32 `json:"tokens"`
	Targets []int32 `json:"targets"` // -1 = ignored
	Loss    float64 `json:"loss"`    // mean cross-entropy over the counted targets
	LossSum float64 `json:"loss_sum"`
	Count   int     `json:"count"`
	Threads int     `json:"threads"`
}

func newBenchParityCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "parity --out DIR [--conf FILE] [--set KEY=VALUE]...",
		Short: "Export one batch's parameters, gradients and loss for the PyTorch parity check",
		Long: `craft bench parity builds the GPT of the configuration (initialised from run.seed, dropout
forced to 0), adds a little noise to every parameter (--jitter), runs forward and backward on one batch of random tokens (a fraction of the targets
set to -1, ignored by the loss) and writes to DIR:
  params.safetensors  the parameters, nanoGPT's names and shapes
  grads.safetensors   the gradients of the mean cross-entropy, same names
  batch.json          the model shape, the tokens and targets, the loss
bench/parity.sh runs it, then bench/parity.py, which computes the same in PyTorch.`,
		Example: `  craft bench parity --conf conf/shakespeare-baby.yaml --out /tmp/parity
  /usr/bin/python3 bench/parity.py /tmp/parity`,
		Args: cobra.NoArgs,
	}
	flags := addConfFlags(cmd)
	var (
		out            string
		vocab, threads int
		batch          int
		ignore, jitter float64
	)
	cmd.Flags().StringVar(&out, "out", "", "directory to write (created if missing)")
	cmd.Flags().IntVar(&vocab, "vocab", 0, "vocabulary size (0 = the dataset's tokenizer)")
	cmd.Flags().IntVar(&batch, "batch", 0, "rows of the batch (0 = train.global_batch)")
	cmd.Flags().IntVar(&threads, "threads", 1, "threads of the model")
	cmd.Flags().Float64Var(&ignore, "ignore", 0.1, "fraction of targets set to -1")
	cmd.Flags().Float64Var(&jitter, "jitter", 0.02, "std of normal noise added to every parameter, so LayerNorm weights are not all 1 nor biases 0")
	_ = cmd.MarkFlagRequired("out")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := flags.load()
		if err != nil {
			return err
		}
		if c.Model.Dropout != 0 {
			slog.Info("parity runs without dropout", "model.dropout", c.Model.Dropout)
			c.Model.Dropout = 0
		}
		if batch > 0 {
			c.Train.GlobalBatch = batch
		}
		c.Train.GradAccum = 1
		model.SetThreads(threads)
		j, err := benchGPT(c, vocab)
		if err != nil {
			return err
		}
		g := j.GPT
		cfg := g.Config()
		a := g.Arena()
		rng := rand.New(rand.NewPCG(c.Run.Seed, 2))
		for i := range a.Params {
			a.Params[i] += float32(rng.NormFloat64() * jitter)
		}
		b := randomBatch(rng, c.Train.GlobalBatch, cfg.BlockSize, cfg.VocabSize, ignore)
		b.Targets[0] = 0 // at least one counted target
		a.ZeroGrad()
		sum, n := g.Forward(&b, false)
		g.Backward(1 / float32(n))

		var pb parityBatch
		pb.Config.VocabSize, pb.Config.BlockSize = cfg.VocabSize, cfg.BlockSize
		pb.Config.NLayer, pb.Config.NHead, pb.Config.NEmbd, pb.Config.Bias = cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.Bias
		pb.B, pb.T, pb.Tokens, pb.Targets = b.B, b.T, b.Tokens, b.Targets
		pb.Loss, pb.LossSum, pb.Count, pb.Threads = sum/float64(n), sum, n, threads
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := writeArenaFile(filepath.Join(out, "params.safetensors"), a, false); err != nil {
			return err
		}
		if err := writeArenaFile(filepath.Join(out, "grads.safetensors"), a, true); err != nil {
			return err
		}
		js, err := json.Marshal(&pb)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "batch.json"), js, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "craft: %d params, batch %d×%d, %d targets counted, loss %.9f; wrote %s\n",
			len(a.Params), b.B, b.T, n, pb.Loss, out)
		return err
	}
	return cmd
}

// writeArenaFile writes the arena's parameters (or gradients) to path as safetensors.
func writeArenaFile(path string, a *model.Arena, grads bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := a.WriteSafetensors(f, grads); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
