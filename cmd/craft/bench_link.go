package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// newBenchLinkCmd is `craft bench link`: the raw bandwidth of one TCP stream
// over loopback between two processes, the yardstick of `craft bench allreduce`.
func newBenchLinkCmd() *cobra.Command {
	var (
		seconds float64
		block   string
	)
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Measure one TCP stream over 127.0.0.1 between two processes",
		Long: `Measures the raw bandwidth of one TCP stream over 127.0.0.1, as iperf3 does:
a second craft process writes large blocks from a reused buffer for a few
seconds and this one reads them into a reused buffer. GB/s are 1e9 bytes/s.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			blockBytes, err := parseSize(block)
			if err != nil {
				return fmt.Errorf("--block: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := measureLink(ctx, secondsDuration(seconds), blockBytes)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# link: one TCP stream over 127.0.0.1 between two processes\n")
			fmt.Fprintf(cmd.OutOrStdout(), "%.2f GB in %.2f s, blocks of %s: %.3f GB/s\n",
				float64(res.Bytes)/1e9, res.Elapsed.Seconds(), formatSize(int64(blockBytes)), res.GBps())
			return nil
		},
	}
	cmd.Flags().Float64Var(&seconds, "seconds", 3, "how long the sender writes")
	cmd.Flags().StringVar(&block, "block", "1M", "bytes per write and per read (K, M suffixes)")
	return cmd
}

// newBenchLinkPeerCmd is the hidden sending side of `craft bench link`.
func newBenchLinkPeerCmd() *cobra.Command {
	var (
		addr    string
		seconds float64
		block   int
	)
	cmd := &cobra.Command{
		Use:    "link-peer",
		Short:  "The sending process of craft bench link (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sendLink(cmd.Context(), addr, secondsDuration(seconds), block)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "the receiver's address")
	cmd.Flags().Float64Var(&seconds, "seconds", 3, "how long to write")
	cmd.Flags().IntVar(&block, "block", 1<<20, "bytes per write")
	return cmd
}

// linkResult is what the receiving side of the link benchmark measured.
type linkResult struct {
	Bytes   int64
	Elapsed time.Duration
}

// GBps is the bandwidth in 1e9 bytes per second.
func (r linkResult) GBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds() / 1e9
}

// measureLink starts a `craft bench link-peer` process that writes to this
// one over one loopback TCP connection for dur, and times what arrives, from
// the first byte to the sender's close.
func measureLink(ctx context.Context, dur time.Duration, block int) (linkResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return linkResult{}, fmt.Errorf("link: listen: %w", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peer, err := startSelf(ctx, nil, "bench", "link-peer",
		"--addr", ln.Addr().String(),
		"--seconds", strconv.FormatFloat(dur.Seconds(), 'f', -1, 64),
		"--block", strconv.Itoa(block))
	if err != nil {
		return linkResult{}, err
	}
	peerDone := make(chan error, 1)
	go func() { peerDone <- peer.Wait() }()
	type accepted struct {
		c   net.Conn
		err error
	}
	acc := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		acc <- accepted{c, err}
	}()
	var conn net.Conn
	select {
	case a := <-acc:
		if a.err != nil {
			return linkResult{}, fmt.Errorf("link: accept: %w", a.err)
		}
		conn = a.c
	case err := <-peerDone:
		return linkResult{}, fmt.Errorf("link: sender exited before connecting: %w", exitError(err))
	case <-ctx.Done():
		return linkResult{}, ctx.Err()
	}
	stopOnCancel := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopOnCancel()
	defer conn.Close()

	buf := make([]byte, block)
	touch(buf)
	var (
		res     linkResult
		start   time.Time
		started bool
	)
	for {
		n, err := conn.Read(buf)
		if n > 0 && !started {
			start, started = time.Now(), true // the first read only starts the clock
			n = 0
		}
		res.Bytes += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return linkResult{}, ctx.Err()
			}
			return linkResult{}, fmt.Errorf("link: read: %w", err)
		}
	}
	res.Elapsed = time.Since(start)
	if err := <-peerDone; err != nil {
		return linkResult{}, fmt.Errorf("link: sender: %w", exitError(err))
	}
	return res, nil
}

// sendLink writes blocks of block bytes to addr for dur, then closes.
func sendLink(ctx context.Context, addr string, dur time.Duration, block int) error {
	if block <= 0 {
		return fmt.Errorf("link-peer: --block %d: want > 0", block)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("link-peer: %w", err)
	}
	defer conn.Close()
	buf := make([]byte, block)
	touch(buf)
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		if _, err := conn.Write(buf); err != nil {
			return fmt.Errorf("link-peer: write: %w", err)
		}
	}
	return conn.Close()
}

// touch writes every page of b, so the benchmark never pays for first-touch.
func touch(b []byte) {
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
}

// startSelf starts this executable with args as a child process that dies
// with ctx, and with this process (SIGKILL on the parent's death, Linux).
// Its stderr goes to ours; stdout is returned as a pipe when wantStdout.
// extra are inherited file descriptors, from 3 on.
func startSelf(ctx context.Context, extra []*os.File, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the craft executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", exe, strings.Join(args, " "), err)
	}
	return cmd, nil
}

// exitError names how a child process ended.
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s", ee.ProcessState.String())
	}
	return err
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// parseSize reads 4K, 64K, 1M, 16M, 1G (powers of 1024; an optional B or iB
// may follow) or a plain number of bytes.
func parseSize(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := 1
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional K, M or G suffix", s)
	}
	return n * mult, nil
}

// formatSize writes bytes as 4K, 64M (when a whole number of them), else bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}
