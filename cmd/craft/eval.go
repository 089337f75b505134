package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/worker"
)

func newEvalCmd() *cobra.Command {
	var path string
	var all bool
	cmd := &cobra.Command{
		Use:   "eval --checkpoint FILE",
		Short: "Evaluate a checkpoint on its validation split",
		Long: `Eval loads the latest checkpoint of a checkpoint file, rebuilds the model and dataset
from the configuration saved in it, and prints the validation loss and accuracy
(exact match of every answer token for addition; the class for tables).`,
		Example: "  craft eval --checkpoint runs/local/craft.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--checkpoint FILE is required")
			}
			ctx := cmd.Context()
			cp, c, err := openCheckpoint(ctx, path)
			if err != nil {
				return err
			}
			src, err := worker.OpenSource(c)
			if err != nil {
				return err
			}
			job, err := worker.Build(c, src)
			if err != nil {
				return err
			}
			tr, err := job.NewTrainer(0, 1, worker.Local{})
			if err != nil {
				return err
			}
			if err := tr.Restore(toSnapshot(cp)); err != nil {
				return fmt.Errorf("%s step %d: %w", path, cp.Step, err)
			}
			r, err := tr.Evaluate(ctx, all || c.Data.Kind != "text")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "checkpoint %s, step %d, run %q\n", path, cp.Step, c.Run.Name)
			fmt.Fprintf(out, "val loss %.4f over %d samples\n", r.Loss, r.Samples)
			if c.Data.Kind != "text" {
				fmt.Fprintf(out, "val accuracy %.2f%%\n", 100*r.Accuracy)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "checkpoint", "", "checkpoint file (craft.db) of a run")
	cmd.Flags().BoolVar(&all, "all", false, "evaluate every validation sample, also for text (default: train.eval_batches batches)")
	return cmd
}
