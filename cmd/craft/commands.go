package main

import "github.com/spf13/cobra"

// addCommands wires every command into root: one line per command, nothing else.
func addCommands(root *cobra.Command) {
	bench := newBenchCmd()
	root.AddCommand(bench)
	root.AddCommand(newVersionCmd())
	root.AddCommand(newConfCmd())
	bench.AddCommand(newBenchStepCmd())
	bench.AddCommand(newBenchParityCmd())
	root.AddCommand(newTrainCmd())
	root.AddCommand(newEvalCmd())
	root.AddCommand(newGenerateCmd())
}
