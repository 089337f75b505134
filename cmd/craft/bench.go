package main

import "github.com/spf13/cobra"

// newBenchCmd returns `craft bench`, the parent of the benchmarks (wired in commands.go).
func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "Measure Craft's speed: training steps, all-reduce, kernels",
		Long: `craft bench groups the benchmarks. Each subcommand measures one part of training on this
machine and prints the figures (with the command line that reproduces them).`,
		Args: cobra.NoArgs,
	}
}
