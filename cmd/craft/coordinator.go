package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

func newCoordinatorCmd() *cobra.Command {
	var (
		resume     bool
		exitOnDone bool
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "coordinator --conf FILE",
		Short: "Run the coordinator of a cluster: it plans the run and keeps its checkpoints",
		Long: `Coordinator prepares the run of --conf (it tokenizes and shards the dataset), then
waits for workers ('craft worker --join ADDR') on cluster.coordinator_addr. Once
cluster.min_workers have joined it hands out the work; when a worker dies or joins, the
run goes on over the new ring from the last checkpoint. Checkpoints are committed to
checkpoint.path (default run.out_dir/run.name/craft.db); /status, /healthz and /metrics
are served on cluster.http_addr.

A checkpoint file that already holds the run is resumed from its latest checkpoint.`,
		Example: `  craft coordinator --conf conf/cluster.yaml
  craft coordinator --conf conf/cluster.yaml --set cluster.min_workers=3 --exit-on-done`,
		Args: cobra.NoArgs,
	}
	cf := addConfFlags(cmd)
	cmd.Flags().BoolVar(&resume, "resume", true, "resume the run from the checkpoint file's latest checkpoint if it holds one (false: refuse a file that holds a run)")
	cmd.Flags().BoolVar(&exitOnDone, "exit-on-done", false, "exit when the run is complete (default: keep serving /status until interrupted)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.load()
		if err != nil {
			return err
		}
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
		ctx := cmd.Context()
		mode := autoResume
		if !resume {
			mode = freshRun
		}
		h, err := startHead(ctx, c, c.Cluster.JoinToken, mode, nil)
		if err != nil {
			return err
		}
		defer h.stop()
		fmt.Fprintf(cmd.OutOrStdout(), "coordinator of run %q: workers join with `craft worker --join %s`; status at http://%s/status\n",
			c.Run.Name, h.addr, h.httpAddr)
		select {
		case <-h.svc.Done():
			st := h.svc.Status()
			slog.Info("run complete", "step", st.Step, "loss", st.Loss, "val_loss", st.LastValLoss, "checkpoint_step", st.LastCheckpointStep)
			if exitOnDone {
				return nil
			}
			<-ctx.Done()
		case <-ctx.Done():
		}
		return nil
	}
	return cmd
}
