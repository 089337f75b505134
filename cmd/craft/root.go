package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// newRootCmd returns the craft command with every subcommand wired in (see commands.go).
// Subcommands must not set PersistentPreRun(E): it would replace the root's, which sets up
// logging.
func newRootCmd() *cobra.Command {
	var logFormat, logLevel string
	root := &cobra.Command{
		Use:   "craft",
		Short: "Craft trains neural networks data-parallel across machines",
		Long: `Craft trains neural networks data-parallel across machines: a coordinator plans the run and
keeps checkpoints, workers sum their gradients in a ring all-reduce and the run survives failures.`,
		Example: `  craft train                                 # the default run: a local cluster in one process
  craft coordinator --conf conf/cluster.yaml  # on the head machine
  craft worker --join head:7070               # on each worker machine
  craft conf show --set train.steps=500       # the resolved configuration and its hash`,
		SilenceErrors: true, // main prints the error
		SilenceUsage:  true, // a failed run is not a usage error
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(logger)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text (readable) or json (one object per line)")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "least severe log level shown: debug, info, warn or error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())
	})
	addCommands(root)
	return root
}

// newLogger returns the logger the --log-format and --log-level flags ask for, writing to w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil || strings.ContainsAny(level, "+-") {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
