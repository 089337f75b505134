package main

import (
	"context"
	"crypto/rand"
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
		o       linkOptions
	)
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Measure one TCP stream over 127.0.0.1 between two processes",
		Long: `Measures the raw bandwidth of one TCP stream over 127.0.0.1, as iperf3 does:
a second craft process writes large blocks from a reused buffer for a few
seconds and this one reads them into a reused buffer. GB/s are 1e9 bytes/s.

--duplex makes both processes write and read at once, as two ring neighbours
do (at 2 ranks each sends to and receives from the other): it prints each
direction's bandwidth. --unix uses an abstract Unix stream socket with 4 MiB
buffers instead of TCP, as the ring transports do between workers on one host.`,
		Example: `  craft bench link
  craft bench link --duplex            # what a 2-rank ring can get from TCP loopback
  craft bench link --duplex --unix     # the same over a Unix socket`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			blockBytes, err := parseSize(block)
			if err != nil {
				return fmt.Errorf("--block: %w", err)
			}
			o.Dur, o.Block = secondsDuration(seconds), blockBytes
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := measureLinkWith(ctx, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			medium := "TCP stream over 127.0.0.1"
			if o.Unix {
				medium = "Unix stream socket"
			}
			if !o.Duplex {
				fmt.Fprintf(out, "# link: one %s between two processes\n", medium)
				fmt.Fprintf(out, "%.2f GB in %.2f s, blocks of %s: %.3f GB/s\n",
					float64(res[0].Bytes)/1e9, res[0].Elapsed.Seconds(), formatSize(int64(blockBytes)), res[0].GBps())
				return nil
			}
			fmt.Fprintf(out, "# link: one %s between two processes, both directions at once\n", medium)
			for i, dir := range []string{"peer -> this", "this -> peer"} {
				fmt.Fprintf(out, "%s: %.2f GB in %.2f s, blocks of %s: %.3f GB/s\n",
					dir, float64(res[i].Bytes)/1e9, res[i].Elapsed.Seconds(), formatSize(int64(blockBytes)), res[i].GBps())
			}
			fmt.Fprintf(out, "per direction: %.3f GB/s (the slower), both: %.3f GB/s\n",
				min(res[0].GBps(), res[1].GBps()), res[0].GBps()+res[1].GBps())
			return nil
		},
	}
	cmd.Flags().Float64Var(&seconds, "seconds", 3, "how long each sender writes")
	cmd.Flags().StringVar(&block, "block", "1M", "bytes per write and per read (K, M suffixes)")
	cmd.Flags().BoolVar(&o.Duplex, "duplex", false, "both processes write and read at once; prints each direction")
	cmd.Flags().BoolVar(&o.Unix, "unix", false, "an abstract Unix stream socket (4 MiB buffers) instead of TCP over 127.0.0.1")
	return cmd
}

// newBenchLinkPeerCmd is the hidden other side of `craft bench link`.
func newBenchLinkPeerCmd() *cobra.Command {
	var (
		addr    string
		seconds float64
		o       linkOptions
	)
	cmd := &cobra.Command{
		Use:    "link-peer",
		Short:  "The other process of craft bench link (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dur = secondsDuration(seconds)
			return runLinkPeer(cmd.Context(), cmd.OutOrStdout(), addr, o)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "the measuring process's address")
	cmd.Flags().Float64Var(&seconds, "seconds", 3, "how long to write")
	cmd.Flags().IntVar(&o.Block, "block", 1<<20, "bytes per write")
	cmd.Flags().BoolVar(&o.Duplex, "duplex", false, "also read, and print what was received")
	cmd.Flags().BoolVar(&o.Unix, "unix", false, "addr is an abstract Unix socket")
	return cmd
}

// linkOptions shape the link benchmark.
type linkOptions struct {
	Dur    time.Duration // how long each sender writes
	Block  int           // bytes per write and read
	Duplex bool          // both ends write and read at once
	Unix   bool          // an abstract Unix socket instead of TCP loopback
}

func (o linkOptions) network() string {
	if o.Unix {
		return "unix"
	}
	return "tcp"
}

// linkSocketBuffer is SO_SNDBUF and SO_RCVBUF of a Unix link, as the ring
// transports set them (a Unix socket does not grow its buffers as TCP does).
const linkSocketBuffer = 4 << 20

func sizeLinkConn(c net.Conn) {
	if u, ok := c.(*net.UnixConn); ok {
		u.SetReadBuffer(linkSocketBuffer)
		u.SetWriteBuffer(linkSocketBuffer)
	}
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

// measureLink is the bandwidth of one TCP stream over loopback.
func measureLink(ctx context.Context, dur time.Duration, block int) (linkResult, error) {
	res, err := measureLinkWith(ctx, linkOptions{Dur: dur, Block: block})
	if err != nil {
		return linkResult{}, err
	}
	return res[0], nil
}

// measureLinkWith runs the link benchmark against a child process. res[0]
// is what this process received; with o.Duplex, res[1] is what the child
// received at the same time.
func measureLinkWith(ctx context.Context, o linkOptions) ([]linkResult, error) {
	if o.Block <= 0 {
		return nil, fmt.Errorf("link: block %d: want > 0", o.Block)
	}
	addr := "127.0.0.1:0"
	if o.Unix {
		addr = "@craft-bench-link/" + rand.Text()
	}
	ln, err := net.Listen(o.network(), addr)
	if err != nil {
		return nil, fmt.Errorf("link: listen: %w", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	args := []string{"bench", "link-peer",
		"--addr", ln.Addr().String(),
		"--seconds", strconv.FormatFloat(o.Dur.Seconds(), 'f', -1, 64),
		"--block", strconv.Itoa(o.Block)}
	if o.Duplex {
		args = append(args, "--duplex")
	}
	if o.Unix {
		args = append(args, "--unix")
	}
	peer, peerOut, err := startSelfPiped(ctx, nil, nil, args...)
	if err != nil {
		return nil, err
	}
	var report []byte // the child's stdout, read before Wait, seen after peerDone
	peerDone := make(chan error, 1)
	go func() {
		report, _ = io.ReadAll(peerOut)
		peerDone <- peer.Wait()
	}()
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
			return nil, fmt.Errorf("link: accept: %w", a.err)
		}
		conn = a.c
	case err := <-peerDone:
		return nil, fmt.Errorf("link: the other process exited before connecting: %w", exitError(err))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sizeLinkConn(conn)
	stopOnCancel := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopOnCancel()
	defer conn.Close()

	var wrote chan error
	if o.Duplex {
		wrote = make(chan error, 1)
		go func() { wrote <- writeLink(conn, o.Dur, o.Block, true) }()
	}
	got, err := readLink(conn, o.Block)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("link: read: %w", err)
	}
	res := []linkResult{got}
	if wrote != nil {
		if err := <-wrote; err != nil {
			return nil, fmt.Errorf("link: write: %w", err)
		}
	}
	if err := <-peerDone; err != nil {
		return nil, fmt.Errorf("link: the other process: %w", exitError(err))
	}
	if o.Duplex {
		var back linkResult
		if _, err := fmt.Sscanf(string(report), "%d %d", &back.Bytes, &back.Elapsed); err != nil {
			return nil, fmt.Errorf("link: the other process reported %q: %w", report, err)
		}
		res = append(res, back)
	}
	return res, nil
}

// runLinkPeer is the child of the link benchmark: it writes blocks to addr
// for o.Dur, and with o.Duplex also reads and prints "bytes nanoseconds"
// of what it received.
func runLinkPeer(ctx context.Context, w io.Writer, addr string, o linkOptions) error {
	if o.Block <= 0 {
		return fmt.Errorf("link-peer: --block %d: want > 0", o.Block)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, o.network(), addr)
	if err != nil {
		return fmt.Errorf("link-peer: %w", err)
	}
	defer conn.Close()
	sizeLinkConn(conn)
	type read struct {
		res linkResult
		err error
	}
	var got chan read
	if o.Duplex {
		got = make(chan read, 1)
		go func() { r, err := readLink(conn, o.Block); got <- read{r, err} }()
	}
	if err := writeLink(conn, o.Dur, o.Block, o.Duplex); err != nil {
		return fmt.Errorf("link-peer: write: %w", err)
	}
	if !o.Duplex {
		return conn.Close()
	}
	r := <-got
	if r.err != nil {
		return fmt.Errorf("link-peer: read: %w", r.err)
	}
	_, err = fmt.Fprintf(w, "%d %d\n", r.res.Bytes, int64(r.res.Elapsed))
	return err
}

// writeLink writes blocks of block bytes to conn for dur, then closes its
// writing half (halfClose: the connection still reads) or leaves closing to
// the caller.
func writeLink(conn net.Conn, dur time.Duration, block int, halfClose bool) error {
	buf := make([]byte, block)
	touch(buf)
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		if _, err := conn.Write(buf); err != nil {
			return err
		}
	}
	if halfClose {
		if hc, ok := conn.(interface{ CloseWrite() error }); ok {
			return hc.CloseWrite()
		}
	}
	return nil
}

// readLink reads conn into a reused buffer until EOF. The clock starts at
// the first read, which is not counted.
func readLink(conn net.Conn, block int) (linkResult, error) {
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
			start, started = time.Now(), true
			n = 0
		}
		res.Bytes += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return linkResult{}, err
		}
	}
	if started {
		res.Elapsed = time.Since(start)
	}
	return res, nil
}

// touch writes every page of b, so the benchmark never pays for first-touch.
func touch(b []byte) {
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
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
