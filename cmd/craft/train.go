package main

import (
	"context"
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
	"github.com/craftml/craft/worker"
)

func newTrainCmd() *cobra.Command {
	var (
		resume  bool
		workers int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model (with no --conf: the built-in addition task)",
		Long: `Train runs a whole training job on this machine: a real coordinator and --workers
workers (default cluster.local_workers) in one process, talking gRPC over 127.0.0.1,
exactly as a cluster of machines would. Checkpoints go to run.out_dir/run.name/craft.db
(or checkpoint.path).

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
	cmd.Flags().IntVar(&workers, "workers", 0, "workers of the local cluster (default: cluster.local_workers)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.load()
		if err != nil {
			return err
		}
		if workers < 0 {
			return fmt.Errorf("--workers %d: want at least 1", workers)
		}
		return train(cmd.Context(), cmd.OutOrStdout(), c, workers, resume)
	}
	return cmd
}

// train runs the job of c on a local cluster of n workers (0: the
// config's cluster.local_workers) and prints its summary to out.
func train(ctx context.Context, out io.Writer, c conf.Config, n int, resume bool) error {
	if n == 0 {
		n = max(1, c.Cluster.LocalWorkers)
	}
	if c.Train.GlobalBatch < n {
		return fmt.Errorf("--workers %d: train.global_batch (%d) must be at least the number of workers", n, c.Train.GlobalBatch)
	}
	// The local cluster admits exactly its own workers.
	c.Cluster.MinWorkers = n
	c.Cluster.MaxWorkers = n
	log := slog.Default()
	log.Info("training on a local cluster", "run", c.Run.Name, "workers", n, "model", c.Model.Kind, "data", c.Data.Kind,
		"steps", c.Train.Steps, "global_batch", c.Train.GlobalBatch, "config_hash", c.Hash())
	start := time.Now()
	var watch func(*coordinator.Service, <-chan struct{})
	if isTerminal(os.Stderr) {
		watch = func(svc *coordinator.Service, stop <-chan struct{}) { showProgress(os.Stderr, svc, stop) }
	} else {
		watch = func(svc *coordinator.Service, stop <-chan struct{}) { logProgress(log, svc, stop, c.Train.Steps) }
	}
	mode := freshRun
	if resume {
		mode = mustResume
	}
	h, err := localCluster(ctx, c, clusterOptions{workers: n, mode: mode, watch: watch})
	if h != nil {
		defer h.stop()
	}
	if err != nil {
		return err
	}
	st := h.svc.Status()
	printSummary(out, c, st, n, time.Since(start))
	if c.Model.Kind == "gpt" && c.Data.Kind == "addition" {
		cp, err := h.store.Latest(ctx)
		if err != nil {
			return err
		}
		return showSums(out, c, cp, 5)
	}
	return nil
}

// showSums rebuilds the model of checkpoint cp and prints it solving
// held-out sums.
func showSums(out io.Writer, c conf.Config, cp *coordinator.Checkpoint, k int) error {
	src, err := worker.OpenSource(c)
	if err != nil {
		return err
	}
	tok, err := dataset.UnmarshalTokenizer(cp.Tokenizer)
	if err != nil {
		return err
	}
	g, err := loadGPT(c, tok, cp.Params)
	if err != nil {
		return err
	}
	printSums(out, g, src, k)
	return nil
}

func printSummary(out io.Writer, c conf.Config, st coordinator.Status, n int, elapsed time.Duration) {
	workers := "workers"
	if n == 1 {
		workers = "worker"
	}
	fmt.Fprintf(out, "\nrun %q: step %d of %d on %d %s in %s", c.Run.Name, st.Step, st.TotalSteps, n, workers, elapsed.Round(100*time.Millisecond))
	if secs := elapsed.Seconds(); secs > 0 && st.Tokens > 0 {
		fmt.Fprintf(out, " (%.0f tokens/s)", float64(st.Tokens)/secs)
	}
	fmt.Fprintf(out, "\ntrain loss %.4f", st.Loss)
	if st.LastValLoss > 0 || st.LastValAccuracy > 0 {
		fmt.Fprintf(out, ", val loss %.4f", st.LastValLoss)
		if c.Data.Kind != "text" {
			fmt.Fprintf(out, ", val accuracy %.2f%%", 100*st.LastValAccuracy)
		}
	}
	fmt.Fprintf(out, "\ncheckpoint: %s (step %d)\n", c.CheckpointPath(), st.LastCheckpointStep)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
