package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/allreduce"
)

// allreduceBenchOptions are the flags of `craft bench allreduce` that the
// rank processes share.
type allreduceBenchOptions struct {
	Sizes        []int // bytes of float32 data per all-reduce
	Iters        int   // timed iterations per size; 0 = by size (autoIters)
	Warmup       int   // untimed iterations per size
	Wire         allreduce.Wire
	SegmentBytes int
	ProfileDir   string // where each rank writes rank-N.cpu.pprof; "" = none
	Threads      int    // GOMAXPROCS of each rank process; 0 = cores / ranks, at least 1
	Transport    string // benchTransportGRPC or benchTransportTCP
	LogLevel     string // the rank processes' --log-level; "" = the default
}

// The transports `craft bench allreduce --transport` knows.
const (
	benchTransportGRPC = "grpc" // allreduce/grpctransport, the default
	benchTransportTCP  = "tcp"  // allreduce/tcptransport, plain TCP
)

// benchSecretEnv carries the ranks' random join token from the bench to
// its rank processes (in the environment, not on the command line, where
// any user of the host could read it).
const benchSecretEnv = "CRAFT_BENCH_SECRET"

// benchTCPSegmentBytes is the default segment over tcp: with no HTTP/2
// framing, larger messages mean fewer syscalls. Measured (tcp, busbw GB/s at
// 1/16/64 MiB, one run each, quiet 2 cores): n=3 256K 0.74/0.94/1.03, 1M
// 0.64/1.08/1.07, 4M 0.80/1.23/1.29; n=4 256K 0.53/0.70/0.76, 1M
// 0.81/0.81/0.81, 4M 0.90/0.99/0.96. (gRPC caps a message at 4 MiB and
// copies each 16 KiB frame: 256K suits it.)
const benchTCPSegmentBytes = 4 << 20

func checkBenchTransport(name string) error {
	switch name {
	case benchTransportGRPC, benchTransportTCP:
		return nil
	}
	return fmt.Errorf("--transport %q: want %s or %s", name, benchTransportGRPC, benchTransportTCP)
}

// threadsFor is the GOMAXPROCS of each of n rank processes: its share of
// the cores, at least 1. More Ps than that only add threads that compete
// for the same cores: on 2 cores, with the ranks on the same-host Unix
// sockets and gRPC's 1 MiB buffers, GOMAXPROCS 1 against 2 (two alternating
// rounds each) gave n=2 grpc 1 MiB 0.99-1.71 against 0.51-0.79 GB/s and
// 16 MiB 0.91-0.94 against 0.71-0.89; tcp 4 KiB 40-44 against 25-28 MB/s
// and 1 MiB 2.56-2.92 against 1.53-1.91; n=3 grpc 1 MiB 0.61-0.69 against
// 0.39-0.45; 64 MiB the same within noise everywhere. (Over TCP loopback
// with smaller gRPC buffers, a single P used to stall a rank whenever
// gRPC's writer sat in a long write(2); that is why this was at least 2.)
func (o allreduceBenchOptions) threadsFor(n int) int {
	if o.Threads > 0 {
		return o.Threads
	}
	return max(1, runtime.NumCPU()/n)
}

// args renders the options as flags of `craft bench allreduce-rank`.
func (o allreduceBenchOptions) args() []string {
	sizes := make([]string, len(o.Sizes))
	for i, s := range o.Sizes {
		sizes[i] = strconv.Itoa(s)
	}
	args := []string{
		"--sizes", strings.Join(sizes, ","),
		"--iters", strconv.Itoa(o.Iters),
		"--warmup", strconv.Itoa(o.Warmup),
		"--wire", o.Wire.String(),
		"--segment", strconv.Itoa(o.SegmentBytes),
		"--profile", o.ProfileDir,
		"--transport", o.Transport,
	}
	if o.LogLevel != "" {
		args = append(args, "--log-level", o.LogLevel)
	}
	return args
}

// rankLogLevel is the --log-level of the rank processes when the bench runs
// at level: warn unless debugging, since a rank's info lines are only the
// end of the run (tcptransport logs each peer that closes as lost).
func rankLogLevel(level string) string {
	if level == "debug" {
		return level
	}
	return "warn"
}

// autoIters is the number of timed iterations for a size when --iters is 0
// (bench/gloo_allreduce.py uses the same rule).
func autoIters(sizeBytes, iters int) int {
	switch {
	case iters > 0:
		return iters
	case sizeBytes <= 64<<10:
		return 200
	case sizeBytes <= 1<<20:
		return 50
	}
	return 20
}

// allreduceRow is one line of the table: one size at one rank count.
type allreduceRow struct {
	Impl      string  `json:"impl"`
	Ranks     int     `json:"ranks"`
	Bytes     int     `json:"bytes"`
	Count     int     `json:"count"`
	Iters     int     `json:"iters"`
	TimeUS    float64 `json:"time_us"` // median over iterations of the slowest rank's time
	AlgBW     float64 `json:"algbw"`   // GB/s: bytes / time
	BusBW     float64 `json:"busbw"`   // GB/s: algbw * 2(n-1)/n
	Link      float64 `json:"link,omitempty"`
	Wire      string  `json:"wire"`
	Transport string  `json:"transport"`
}

// rankTimes is what a rank process reports for one size.
type rankTimes struct {
	Bytes   int     `json:"bytes"`
	TimesNS []int64 `json:"times_ns"`
}

// newBenchAllReduceCmd is `craft bench allreduce`.
func newBenchAllReduceCmd() *cobra.Command {
	var (
		ranks, sizes, wire string
		iters, warmup      int
		segment, profile   string
		transport          string
		threads            int
		linkSeconds        float64
		asJSON             bool
	)
	cmd := &cobra.Command{
		Use:   "allreduce",
		Short: "Measure the ring all-reduce between processes on 127.0.0.1",
		Long: `Measures Craft's ring all-reduce (allreduce.Ring over grpctransport, or with
--transport tcp over tcptransport, plain TCP) as nccl-tests
do: for each rank count, that many craft processes on 127.0.0.1 sum float32
buffers of each size. Per iteration the ranks pass a barrier, then each times
its own all-reduce; an iteration takes the slowest rank's time and the table
shows the median over iterations:

  algbw = size / time     busbw = algbw * 2(n-1)/n     (GB/s = 1e9 bytes/s)

In the same run it measures one TCP stream over 127.0.0.1 between two
processes (craft bench link) and prints busbw as a fraction of it.`,
		Example: `  craft bench allreduce --ranks 2,3,4 --sizes 4K,64K,1M,16M,64M
  craft bench allreduce --ranks 2,3,4 --sizes 4K,64K,1M,16M,64M --transport tcp
  craft bench allreduce --ranks 2 --sizes 16M --iters 50 --wire bfloat16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o allreduceBenchOptions
			var err error
			ns, err := parseInts(ranks)
			if err != nil {
				return fmt.Errorf("--ranks: %w", err)
			}
			for _, n := range ns {
				if n < 1 || n > 64 {
					return fmt.Errorf("--ranks: %d ranks; want 1 to 64", n)
				}
			}
			if o.Sizes, err = parseSizes(sizes); err != nil {
				return fmt.Errorf("--sizes: %w", err)
			}
			if o.Wire, err = allreduce.ParseWire(wire); err != nil {
				return fmt.Errorf("--wire: %w", err)
			}
			switch {
			case segment != "":
				if o.SegmentBytes, err = parseSize(segment); err != nil {
					return fmt.Errorf("--segment: %w", err)
				}
			case transport == benchTransportTCP:
				o.SegmentBytes = benchTCPSegmentBytes
			default:
				o.SegmentBytes = allreduce.DefaultConfig().SegmentBytes
			}
			o.Iters, o.Warmup, o.ProfileDir, o.Threads, o.Transport = iters, warmup, profile, threads, transport
			level, _ := cmd.Flags().GetString("log-level")
			o.LogLevel = rankLogLevel(level)
			if err := checkBenchTransport(o.Transport); err != nil {
				return err
			}
			if o.Threads < 0 {
				return errors.New("--threads must be >= 0")
			}
			if o.Iters < 0 || o.Warmup < 0 {
				return errors.New("--iters and --warmup must be >= 0")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			out := cmd.OutOrStdout()
			var link linkResult
			if linkSeconds > 0 {
				if link, err = measureLink(ctx, secondsDuration(linkSeconds), 1<<20); err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(out, "# link: one TCP stream over 127.0.0.1 between two processes: %.3f GB/s (%.1f s, 1M writes)\n",
						link.GBps(), link.Elapsed.Seconds())
				}
			}
			for _, n := range ns {
				rows, cpu, err := runAllReduceRanks(ctx, n, o)
				if err != nil {
					return err
				}
				for i := range rows {
					rows[i].Link = link.GBps()
				}
				if asJSON {
					enc := json.NewEncoder(out)
					for _, r := range rows {
						if err := enc.Encode(r); err != nil {
							return err
						}
					}
					continue
				}
				printAllReduceTable(out, n, o, rows, link.GBps())
				fmt.Fprintf(out, "# %d rank processes: %.2f s wall, CPU %.2f s user + %.2f s system (all sizes, warm-up and barriers included)\n",
					n, cpu.wall.Seconds(), cpu.user.Seconds(), cpu.sys.Seconds())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ranks, "ranks", "2,3,4", "rank counts, comma-separated; each rank is a process")
	f.StringVar(&sizes, "sizes", "4K,64K,1M,16M,64M", "buffer sizes in bytes of float32 (K, M suffixes), comma-separated")
	f.IntVar(&iters, "iters", 0, "timed iterations per size (0: 200 up to 64K, 50 up to 1M, 20 above)")
	f.IntVar(&warmup, "warmup", 5, "untimed iterations per size")
	f.StringVar(&wire, "wire", "float32", "element format on the wire: float32, bfloat16 or float16")
	f.StringVar(&segment, "segment", "", fmt.Sprintf("bytes per message (allreduce.segment_bytes; default %s over grpc, %s over tcp)",
		formatSize(int64(allreduce.DefaultConfig().SegmentBytes)), formatSize(benchTCPSegmentBytes)))
	f.Float64Var(&linkSeconds, "link-seconds", 3, "seconds of the single-stream link measurement (0: skip)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per row instead of the table")
	f.StringVar(&profile, "profile", "", "write a CPU profile of each rank to `DIR`/rank-N.cpu.pprof")
	f.IntVar(&threads, "threads", 0, "GOMAXPROCS of each rank process (0: cores / ranks, at least 1)")
	f.StringVar(&transport, "transport", benchTransportGRPC, "the ranks' transport, keyed by a random join token: grpc (grpctransport) or tcp (tcptransport, plain TCP)")
	return cmd
}

func printAllReduceTable(w io.Writer, n int, o allreduceBenchOptions, rows []allreduceRow, link float64) {
	fmt.Fprintf(w, "# craft ring all-reduce (sum) over %s, %d ranks as processes on 127.0.0.1 (GOMAXPROCS %d each), %s wire, %s segments\n",
		o.Transport, n, o.threadsFor(n), o.Wire, formatSize(int64(o.SegmentBytes)))
	fmt.Fprintf(w, "%10s %10s %6s %11s %9s %9s", "size", "count", "iters", "time(us)", "algbw", "busbw")
	if link > 0 {
		fmt.Fprintf(w, " %9s", "busbw/link")
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "%10s %10d %6d %11.1f %9.3f %9.3f", formatSize(int64(r.Bytes)), r.Count, r.Iters, r.TimeUS, r.AlgBW, r.BusBW)
		if link > 0 {
			fmt.Fprintf(w, " %9.2f", r.BusBW/link)
		}
		fmt.Fprintln(w)
	}
}

// runAllReduceRanks starts n `craft bench allreduce-rank` processes, each
// with its listening socket already open (inherited), so they rendezvous by
// the address list alone, and turns their reports into rows. On any error,
// or when ctx ends, every process is killed before it returns.
func runAllReduceRanks(ctx context.Context, n int, o allreduceBenchOptions) ([]allreduceRow, cpuTime, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	files := make([]*os.File, n)
	addrs := make([]string, n)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, cpuTime{}, fmt.Errorf("allreduce bench: listen: %w", err)
		}
		addrs[i] = ln.Addr().String()
		files[i], err = ln.(*net.TCPListener).File()
		ln.Close() // the duplicate in files[i] stays open for the child
		if err != nil {
			return nil, cpuTime{}, fmt.Errorf("allreduce bench: listener file: %w", err)
		}
	}
	env := []string{"GOMAXPROCS=" + strconv.Itoa(o.threadsFor(n))}
	env = append(env, benchSecretEnv+"="+rand.Text())
	reports := make([][]rankTimes, n)
	var (
		wg    sync.WaitGroup
		cpuMu sync.Mutex
		cpu   cpuTime
	)
	start := time.Now()
	errs := make([]error, n)
	for r := range n {
		args := append([]string{"bench", "allreduce-rank", "--rank", strconv.Itoa(r), "--peers", strings.Join(addrs, ",")}, o.args()...)
		c, stdout, err := startSelfPiped(ctx, []*os.File{files[r]}, env, args...)
		if err != nil {
			cancel(err)
			wg.Wait()
			return nil, cpuTime{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := readRankReports(stdout)
			werr := c.Wait()
			if c.ProcessState != nil {
				cpuMu.Lock()
				cpu.user += c.ProcessState.UserTime()
				cpu.sys += c.ProcessState.SystemTime()
				cpuMu.Unlock()
			}
			if werr != nil {
				err = fmt.Errorf("rank %d of %d: %w", r, n, exitError(werr))
			} else if err != nil {
				err = fmt.Errorf("rank %d of %d: %w", r, n, err)
			}
			if err != nil {
				errs[r] = err
				cancel(err) // kills the other ranks
				return
			}
			reports[r] = rep
		}()
	}
	wg.Wait()
	// The first failure (a rank's error, or the caller's cancellation) is
	// the cause; the other ranks' errors are its consequences.
	if err := context.Cause(ctx); err != nil {
		return nil, cpuTime{}, err
	}
	if e := errors.Join(errs...); e != nil {
		return nil, cpuTime{}, e
	}
	cpu.wall = time.Since(start)
	rows, err := combineRankReports(n, o, reports)
	return rows, cpu, err
}

// cpuTime is the CPU time the rank processes of one rank count used, and
// the wall time they ran.
type cpuTime struct{ user, sys, wall time.Duration }

// startSelfPiped starts this executable with args as a child process that
// dies with ctx, and with this process (SIGKILL on the parent's death,
// Linux), with env added to ours. Its stderr goes to ours; its stdout is
// returned as a pipe, to be read to the end before Wait. extra are
// inherited file descriptors, from 3 on.
func startSelfPiped(ctx context.Context, extra []*os.File, env []string, args ...string) (*exec.Cmd, io.Reader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find the craft executable: %w", err)
	}
	c := exec.CommandContext(ctx, exe, args...)
	c.Stderr = os.Stderr
	c.ExtraFiles = extra
	c.Env = append(os.Environ(), env...)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.WaitDelay = time.Second
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := c.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s %s: %w", exe, strings.Join(args, " "), err)
	}
	return c, stdout, nil
}

// readRankReports reads a rank's JSON lines until EOF.
func readRankReports(r io.Reader) ([]rankTimes, error) {
	var out []rankTimes
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var rt rankTimes
		if err := json.Unmarshal(sc.Bytes(), &rt); err != nil {
			return nil, fmt.Errorf("bad report line %q: %w", sc.Text(), err)
		}
		out = append(out, rt)
	}
	return out, sc.Err()
}

// combineRankReports makes the rows: per iteration the slowest rank's time,
// then the median over iterations.
func combineRankReports(n int, o allreduceBenchOptions, reports [][]rankTimes) ([]allreduceRow, error) {
	rows := make([]allreduceRow, 0, len(o.Sizes))
	for i, size := range o.Sizes {
		var worst []int64
		for r, rep := range reports {
			if i >= len(rep) || rep[i].Bytes != size {
				return nil, fmt.Errorf("rank %d of %d reported no times for %d bytes", r, n, size)
			}
			if worst == nil {
				worst = make([]int64, len(rep[i].TimesNS))
			}
			if len(rep[i].TimesNS) != len(worst) {
				return nil, fmt.Errorf("rank %d of %d reported %d iterations for %d bytes; want %d", r, n, len(rep[i].TimesNS), size, len(worst))
			}
			for k, t := range rep[i].TimesNS {
				worst[k] = max(worst[k], t)
			}
		}
		med := median(worst)
		count := max(size/4, 1)
		bytes := 4 * count
		algbw := float64(bytes) / med / 1e9
		rows = append(rows, allreduceRow{
			Impl:      "craft",
			Ranks:     n,
			Bytes:     bytes,
			Count:     count,
			Iters:     len(worst),
			TimeUS:    med * 1e6,
			AlgBW:     algbw,
			BusBW:     algbw * 2 * float64(n-1) / float64(n),
			Wire:      o.Wire.String(),
			Transport: o.Transport,
		})
	}
	return rows, nil
}

// median returns the median of ns (nanoseconds), in seconds.
func median(ns []int64) float64 {
	s := slices.Clone(ns)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	m := len(s) / 2
	if len(s)%2 == 1 {
		return float64(s[m]) / 1e9
	}
	return float64(s[m-1]+s[m]) / 2 / 1e9
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := parseSize(f)
		if err != nil {
			return nil, err
		}
		if v < 4 {
			return nil, fmt.Errorf("size %q: want at least 4 bytes (one float32)", f)
		}
		out = append(out, v)
	}
	return out, nil
}
