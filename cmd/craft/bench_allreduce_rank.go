package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/allreduce"
)

// newBenchAllReduceRankCmd is the hidden rank process of `craft bench
// allreduce`: it serves on the listener inherited as file descriptor 3.
func newBenchAllReduceRankCmd() *cobra.Command {
	var (
		rank                int
		peers, sizes, wire  string
		iters, warmup, segm int
		profile, transport  string
	)
	cmd := &cobra.Command{
		Use:    "allreduce-rank",
		Short:  "One rank process of craft bench allreduce (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := allreduceBenchOptions{Iters: iters, Warmup: warmup, SegmentBytes: segm, ProfileDir: profile, Transport: transport}
			if err := checkBenchTransport(o.Transport); err != nil {
				return err
			}
			var err error
			if o.Sizes, err = parseSizes(sizes); err != nil {
				return err
			}
			if o.Wire, err = allreduce.ParseWire(wire); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAllReduceRank(ctx, cmd.OutOrStdout(), rank, strings.Split(peers, ","), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&rank, "rank", 0, "this process's rank")
	f.StringVar(&peers, "peers", "", "every rank's address, in rank order")
	f.StringVar(&sizes, "sizes", "", "sizes in bytes")
	f.IntVar(&iters, "iters", 0, "timed iterations per size (0: by size)")
	f.IntVar(&warmup, "warmup", 5, "untimed iterations per size")
	f.StringVar(&wire, "wire", "float32", "wire format")
	f.IntVar(&segm, "segment", allreduce.DefaultConfig().SegmentBytes, "bytes per message")
	f.StringVar(&profile, "profile", "", "write a CPU profile to DIR/rank-N.cpu.pprof")
	f.StringVar(&transport, "transport", benchTransportGRPC, "grpc or tcp (the join token comes in $"+benchSecretEnv+" for either)")
	return cmd
}

// runAllReduceRank is one rank process: it serves on the listener inherited
// as file descriptor 3, with the join token from the environment.
func runAllReduceRank(ctx context.Context, w io.Writer, rank int, peers []string, o allreduceBenchOptions) error {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("rank %d: inherited listener: %w", rank, err)
	}
	token := os.Getenv(benchSecretEnv)
	if token == "" {
		ln.Close()
		return fmt.Errorf("rank %d: $%s is empty; want the join token from craft bench allreduce", rank, benchSecretEnv)
	}
	return runAllReduceRankOn(ctx, w, ln, rank, peers, o, token)
}

// runAllReduceRankOn is one rank serving on ln: it times every size and
// writes one JSON line per size to w.
func runAllReduceRankOn(ctx context.Context, w io.Writer, ln net.Listener, rank int, peers []string, o allreduceBenchOptions, token string) error {
	if o.ProfileDir != "" {
		f, err := os.Create(filepath.Join(o.ProfileDir, fmt.Sprintf("rank-%d.cpu.pprof", rank)))
		if err != nil {
			ln.Close()
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			ln.Close()
			return err
		}
		defer pprof.StopCPUProfile()
	}
	tr, err := openRingTransport(ln, peers[rank], o.Transport, token, o.SegmentBytes, slog.Default())
	if err != nil {
		return fmt.Errorf("rank %d: %w", rank, err)
	}
	defer tr.Close()
	rcfg := allreduce.DefaultConfig()
	rcfg.SegmentBytes, rcfg.Wire = o.SegmentBytes, o.Wire
	rcfg.Logger = slog.Default()
	ring := allreduce.New(tr, rcfg)
	defer ring.Close()
	n := len(peers)
	if err := ring.Configure(ctx, allreduce.Membership{Run: 0xbe9c4, Gen: 1, Rank: rank, Peers: peers}); err != nil {
		return fmt.Errorf("rank %d: %w", rank, err)
	}
	tag := allreduce.Tag{Gen: 1}
	reduce := func(buf []float32) error {
		tag.Step++
		return ring.AllReduce(ctx, tag, buf)
	}
	barrier := make([]float32, 1)
	rng := rand.New(rand.NewPCG(uint64(rank)+1, 7))
	enc := json.NewEncoder(w)
	for _, size := range o.Sizes {
		count := max(size/4, 1)
		buf := make([]float32, count) // touched once here, reused by every iteration
		for i := range buf {
			buf[i] = rng.Float32()
		}
		for range o.Warmup {
			if err := reduce(buf); err != nil {
				return fmt.Errorf("rank %d: warm-up of %d bytes: %w", rank, size, err)
			}
		}
		times := make([]int64, autoIters(size, o.Iters))
		for i := range times {
			if i%8 == 0 { // keep the values bounded: every call multiplies them by about n
				scale := 1 / float32(n)
				for j := range buf {
					buf[j] *= scale
				}
			}
			if err := reduce(barrier); err != nil {
				return fmt.Errorf("rank %d: barrier: %w", rank, err)
			}
			t0 := time.Now()
			if err := reduce(buf); err != nil {
				return fmt.Errorf("rank %d: all-reduce of %d bytes: %w", rank, size, err)
			}
			times[i] = int64(time.Since(t0))
		}
		if err := enc.Encode(rankTimes{Bytes: size, TimesNS: times}); err != nil {
			return err
		}
	}
	// A last barrier, so no rank closes while a peer still needs it.
	return reduce(barrier)
}
