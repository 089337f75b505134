package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/conf"
)

// confFlags are the --conf and --set flags of a command that reads a config; see addConfFlags.
type confFlags struct {
	path string
	sets []string
}

// addConfFlags adds --conf FILE and repeatable --set KEY=VALUE to cmd; every command that reads
// a config takes them this way, and calls load in its RunE.
func addConfFlags(cmd *cobra.Command) *confFlags {
	f := &confFlags{}
	cmd.Flags().StringVar(&f.path, "conf", "", "config file (YAML); default: the embedded conf/local.yaml")
	// StringArray, not StringSlice: a value may hold commas (--set model.hidden=[256,128]).
	cmd.Flags().StringArrayVar(&f.sets, "set", nil, "override one key, e.g. --set train.steps=500 (repeatable; applied in order after --conf)")
	return f
}

// name is the config's name in messages: the file, or the embedded default.
func (f *confFlags) name() string {
	if f.path == "" {
		return conf.EmbeddedName
	}
	return f.path
}

// load reads --conf (or the embedded default), applies the --set overrides and validates the
// result. The error lists every problem, one per line, each with its file:line:col or --set.
func (f *confFlags) load() (conf.Config, error) {
	var (
		c   conf.Config
		err error
	)
	if f.path == "" {
		c, err = conf.LoadDefault(f.sets)
	} else {
		c, err = conf.Load(f.path, f.sets)
	}
	if err != nil {
		return conf.Config{}, err
	}
	slog.Debug("config loaded", "conf", f.name(), "sets", f.sets, "hash", c.Hash())
	return c, nil
}

// newConfCmd returns `craft conf` and its subcommands.
func newConfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conf",
		Short: "Show or check a configuration",
		Long: `craft conf shows the fully resolved configuration of a run, or checks config files.
The reference of every key is docs/config.md.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newConfShowCmd(), newConfValidateCmd())
	return cmd
}

func newConfShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show [--conf FILE] [--set KEY=VALUE]...",
		Short: "Print the resolved configuration, every default filled in, and its hash",
		Long: `craft conf show prints the configuration a command given the same --conf and --set would
run with: every key, defaults filled in, as YAML, then its hash (the one checkpoints record).
With no --conf it prints the embedded default, conf/local.yaml.`,
		Args: cobra.NoArgs,
	}
	flags := addConfFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := flags.load()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s# hash: sha256:%s\n", c.YAML(), c.Hash())
		return err
	}
	return cmd
}

func newConfValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [--conf FILE | FILE...] [--set KEY=VALUE]...",
		Short: "Check config files; print FILE: OK, or every problem and exit 1",
		Long: `craft conf validate decodes and checks each config file (with the --set overrides applied
to each). It prints "FILE: OK" for a good one; otherwise it lists every problem, each with its
file:line:col, and exits with status 1. With no file it checks the embedded default.`,
		Example: `  craft conf validate --conf conf/cluster.yaml --set cluster.min_workers=4
  craft conf validate conf/*.yaml`,
	}
	flags := addConfFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if flags.path != "" && len(args) > 0 {
			return fmt.Errorf("give the files either with --conf or as arguments, not both")
		}
		files := []*confFlags{flags}
		if len(args) > 0 {
			files = files[:0]
			for _, a := range args {
				files = append(files, &confFlags{path: a, sets: flags.sets})
			}
		}
		var errs []error
		for _, f := range files {
			if _, err := f.load(); err != nil {
				errs = append(errs, err)
				continue
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", f.name()); err != nil {
				return err
			}
		}
		return errors.Join(errs...)
	}
	return cmd
}
