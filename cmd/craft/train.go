package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
	"github.com/craftml/craft/worker"
)

func newTrainCmd() *cobra.Command {
	var resume bool
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model (with no --conf: the built-in addition task)",
		Long: `Train runs a whole training job on this machine and keeps its checkpoints in
run.out_dir/run.name/craft.db (or checkpoint.path).

With no --conf it trains the embedded default (conf/local.yaml): a small GPT learns
2-digit addition, then prints a few sums it solves. --resume continues a run from its
last checkpoint, bitwise as if it had never stopped.`,
		Example: `  craft train
  craft train --conf conf/shakespeare-baby.yaml
  craft train --set train.steps=500 --set run.name=short
  craft train --resume`,
		Args: cobra.NoArgs,
	}
	cf := addConfFlags(cmd)
	cmd.Flags().BoolVar(&resume, "resume", false, "continue the run from the latest checkpoint in its checkpoint file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.load()
		if err != nil {
			return err
		}
		return train(cmd.Context(), cmd.OutOrStdout(), c, resume)
	}
	return cmd
}

// train runs the job of c in this process and prints its summary to out.
func train(ctx context.Context, out io.Writer, c conf.Config, resume bool) error {
	log := slog.Default()
	src, err := worker.OpenSource(c)
	if err != nil {
		return err
	}
	job, err := worker.Build(c, src)
	if err != nil {
		return err
	}
	model.SetThreads(c.Train.Threads)
	tr, err := job.NewTrainer(0, 1, worker.Local{})
	if err != nil {
		return err
	}
	path := c.CheckpointPath()
	store, err := openStore(path, c.Checkpoint.Keep)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := restore(ctx, store, tr, c, path, resume); err != nil {
		return err
	}
	log.Info("training", "run", c.Run.Name, "model", c.Model.Kind, "params", len(job.Model.Arena().Params),
		"data", c.Data.Kind, "train_samples", src.Len(dataset.Train), "val_samples", src.Len(dataset.Val),
		"steps", c.Train.Steps, "from_step", tr.Step(), "checkpoints", path, "config_hash", c.Hash())

	save := func(ctx context.Context, s *worker.Snapshot) error {
		if err := store.Save(ctx, toCheckpoint(s)); err != nil {
			return err
		}
		log.Debug("checkpoint committed", "step", s.Step, "file", path)
		return nil
	}
	cbs := []worker.Callback{
		worker.SaveCheckpoints{Save: save},
		worker.EarlyStop{Patience: c.Train.EarlyStopPatience},
	}
	if isTerminal(os.Stderr) {
		cbs = append(cbs, newProgress(os.Stderr, c.Train.Steps, tr.Step()))
	} else {
		cbs = append(cbs, worker.LogSteps{Logger: log, Every: max(1, c.Train.Steps/50)})
	}
	meta := worker.Snapshot{ConfigHash: c.Hash(), Config: c.YAML()}
	sum, err := tr.Run(ctx, worker.RunOptions{FinalEval: true, EvalAll: c.Data.Kind != "text", Meta: meta}, cbs...)
	if err != nil {
		return err
	}
	printSummary(out, c, sum, path)
	if job.GPT != nil && c.Data.Kind == "addition" {
		printSums(out, job.GPT, src, 5)
	}
	return nil
}

// restore resumes tr from the store's latest checkpoint when resume is set,
// and refuses to overwrite another run's checkpoints when it is not.
func restore(ctx context.Context, store coordinator.Store, tr *worker.Trainer, c conf.Config, path string, resume bool) error {
	cp, err := store.Latest(ctx)
	switch {
	case errors.Is(err, coordinator.ErrNoCheckpoint):
		if resume {
			return fmt.Errorf("--resume: %s holds no checkpoint to resume from", path)
		}
		return nil
	case err != nil:
		return err
	case !resume:
		return fmt.Errorf("%s already holds run %q at step %d: pass --resume to continue it, or choose another run.name or checkpoint.path",
			path, c.Run.Name, cp.Step)
	}
	if cp.ConfigHash != c.Hash() {
		slog.Warn("the configuration differs from the checkpoint's; the resumed run will not match an uninterrupted one",
			"checkpoint_hash", cp.ConfigHash, "config_hash", c.Hash())
	}
	if err := tr.Restore(toSnapshot(cp)); err != nil {
		return fmt.Errorf("resume from %s step %d: %w", path, cp.Step, err)
	}
	slog.Info("resumed", "step", cp.Step, "file", path)
	return nil
}

func printSummary(out io.Writer, c conf.Config, s worker.Summary, path string) {
	secs := s.Elapsed.Seconds()
	fmt.Fprintf(out, "\nrun %q: %d steps in %s", c.Run.Name, s.Steps, s.Elapsed.Round(100*time.Millisecond))
	if secs > 0 && s.Tokens > 0 {
		fmt.Fprintf(out, " (%.0f samples/s, %.0f tokens/s)", float64(s.Samples)/secs, float64(s.Tokens)/secs)
	}
	if s.Stopped {
		fmt.Fprint(out, ", stopped early")
	}
	fmt.Fprintf(out, "\ntrain loss %.4f", s.Loss)
	if s.Eval != nil {
		fmt.Fprintf(out, ", val loss %.4f", s.Eval.Loss)
		if c.Data.Kind != "text" {
			fmt.Fprintf(out, ", val accuracy %.2f%% (%d samples)", 100*s.Eval.Accuracy, s.Eval.Samples)
		}
	}
	fmt.Fprintf(out, "\ncheckpoint: %s\n", path)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
