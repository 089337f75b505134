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
	bench.AddCommand(newBenchAllReduceCmd())
	bench.AddCommand(newBenchAllReduceRankCmd())
	bench.AddCommand(newBenchLinkCmd())
	bench.AddCommand(newBenchLinkPeerCmd())
	root.AddCommand(newTrainCmd())
	root.AddCommand(newCoordinatorCmd())
	root.AddCommand(newWorkerCmd())
	root.AddCommand(newEvalCmd())
	root.AddCommand(newGenerateCmd())
}
