package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/worker"
)

func newWorkerCmd() *cobra.Command {
	var (
		o          workerOptions
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "worker --join HOST:PORT",
		Short: "Run a worker: join a coordinator and train its share of every step",
		Long: `Worker joins the coordinator at --join, receives the run's configuration and dataset
manifest, fetches the dataset shards it needs, and trains: each step it computes the
gradient of its share of the global batch and sums it with the other workers in a ring
all-reduce over gRPC (listening on --listen; peers dial --advertise). It exits when the
run is complete. A worker may join a run that is already going; it starts on the next
generation.`,
		Example: `  craft worker --join head:7070
  craft worker --join 10.0.0.1:7070 --listen 0.0.0.0:7071 --advertise 10.0.0.2:7071 --threads 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.join == "" {
				return fmt.Errorf("--join HOST:PORT is required: the coordinator's cluster.coordinator_addr")
			}
			if o.threads < 0 {
				return fmt.Errorf("--threads %d: want 0 (all cores) or more", o.threads)
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return runWorker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.join, "join", "", "the coordinator's gRPC address, host:port")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "where the ring all-reduce listens (port 0: any free port)")
	f.StringVar(&o.advertise, "advertise", "", "the ring address peers dial (default: the --listen address)")
	f.StringVar(&o.id, "id", "", "this worker's name in the run (default: host-pid-random)")
	f.StringVar(&o.token, "token", "", "the cluster's join token (cluster.join_token), if it has one")
	f.IntVar(&o.threads, "threads", 0, "compute threads (0: the configuration's train.threads, else all cores)")
	f.IntVar(&o.computeNice, "compute-nice", worker.ComputeNiceDefault,
		"niceness (1-19) of the thread that trains, below the ring's network threads so a neighbour's\nmessage is handled at once when compute and network share a core; 0 leaves it unchanged")
	f.StringVar(&o.cacheDir, "cache-dir", "", "directory that caches fetched dataset shards (default: memory only)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file, for go tool pprof")
	f.StringVar(&o.gossip, "gossip", "", "where the membership gossip listens, host:port (default: the --listen host, any port)")
	f.StringVar(&o.gossipAdv, "gossip-advertise", "", "the gossip address other nodes reach (default: the bound address)")
	return cmd
}
