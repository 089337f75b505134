package main

import (
	"bytes"
	"context"
	"math"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/craftml/craft/allreduce"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"4K", 4 << 10, true},
		{"64k", 64 << 10, true},
		{"1M", 1 << 20, true},
		{"16MiB", 16 << 20, true},
		{"2G", 2 << 30, true},
		{"4096", 4096, true},
		{" 1M ", 1 << 20, true},
		{"", 0, false},
		{"M", 0, false},
		{"-1K", 0, false},
		{"1.5M", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{4096, "4K"}, {1 << 20, "1M"}, {64 << 20, "64M"}, {1 << 30, "1G"}, {1000, "1000"}, {1536 << 10, "1536K"},
	}
	for _, tc := range tests {
		if got := formatSize(tc.in); got != tc.want {
			t.Errorf("formatSize(%d) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestAutoIters(t *testing.T) {
	tests := []struct{ size, iters, want int }{
		{4 << 10, 0, 200}, {64 << 10, 0, 200}, {1 << 20, 0, 50}, {16 << 20, 0, 20}, {16 << 20, 7, 7},
	}
	for _, tc := range tests {
		if got := autoIters(tc.size, tc.iters); got != tc.want {
			t.Errorf("autoIters(%d, %d) = %d; want %d", tc.size, tc.iters, got, tc.want)
		}
	}
}

// TestCombineRankReports checks the timing rule shared with
// bench/gloo_allreduce.py: per iteration the slowest rank, then the median.
func TestCombineRankReports(t *testing.T) {
	o := allreduceBenchOptions{Sizes: []int{1 << 20}}
	reports := [][]rankTimes{
		{{Bytes: 1 << 20, TimesNS: []int64{1000, 5000, 3000}}},
		{{Bytes: 1 << 20, TimesNS: []int64{2000, 1000, 4000}}},
	}
	rows, err := combineRankReports(2, o, reports)
	if err != nil {
		t.Fatalf("combineRankReports = %v", err)
	}
	// Slowest per iteration: 2000, 5000, 4000; median 4000 ns.
	r := rows[0]
	if r.TimeUS != 4 || r.Count != 1<<18 || r.Iters != 3 {
		t.Errorf("row = %+v; want time 4 us, count 262144, 3 iterations", r)
	}
	wantAlg := float64(1<<20) / 4e-6 / 1e9
	if math.Abs(r.AlgBW-wantAlg) > 1e-9 || math.Abs(r.BusBW-wantAlg) > 1e-9 { // 2(n-1)/n = 1 at n=2
		t.Errorf("algbw, busbw = %v, %v; want %v, %v", r.AlgBW, r.BusBW, wantAlg, wantAlg)
	}
	rows, err = combineRankReports(4, o, append(reports, reports...))
	if err != nil || math.Abs(rows[0].BusBW-wantAlg*1.5) > 1e-9 {
		t.Errorf("busbw at 4 ranks = %v, %v; want algbw * 1.5 = %v", rows[0].BusBW, err, wantAlg*1.5)
	}
	short := [][]rankTimes{reports[0], {{Bytes: 1 << 20, TimesNS: []int64{1}}}}
	if _, err := combineRankReports(2, o, short); err == nil || !strings.Contains(err.Error(), "iterations") {
		t.Errorf("combineRankReports with unequal iterations = %v; want an error", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []int64
		want float64
	}{
		{[]int64{3e9, 1e9, 2e9}, 2}, {[]int64{4e9, 1e9, 2e9, 3e9}, 2.5}, {nil, 0},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

// TestAllReduceRanksInProcess runs two ranks of `craft bench allreduce` in
// this process, over each transport, and checks their reports.
func TestAllReduceRanksInProcess(t *testing.T) {
	for _, transport := range []string{benchTransportGRPC, benchTransportTCP} {
		t.Run(transport, func(t *testing.T) {
			const n = 2
			o := allreduceBenchOptions{Sizes: []int{4 << 10, 1 << 20}, Iters: 3, Warmup: 1,
				Wire: allreduce.WireFloat32, SegmentBytes: 64 << 10, Transport: transport}
			lns := make([]net.Listener, n)
			peers := make([]string, n)
			for i := range lns {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				lns[i], peers[i] = ln, ln.Addr().String()
			}
			token := "a-join-token-for-the-bench-test"
			outs := make([]bytes.Buffer, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for r := range n {
				wg.Go(func() {
					errs[r] = runAllReduceRankOn(context.Background(), &outs[r], lns[r], r, peers, o, token)
				})
			}
			wg.Wait()
			reports := make([][]rankTimes, n)
			for r := range n {
				if errs[r] != nil {
					t.Fatalf("rank %d: %v", r, errs[r])
				}
				rep, err := readRankReports(&outs[r])
				if err != nil {
					t.Fatalf("rank %d report: %v", r, err)
				}
				reports[r] = rep
			}
			rows, err := combineRankReports(n, o, reports)
			if err != nil || len(rows) != 2 || rows[1].Iters != 3 || rows[1].Transport != transport || rows[1].BusBW <= 0 {
				t.Fatalf("rows = %+v, %v; want 2 rows of 3 iterations over %s", rows, err, transport)
			}
		})
	}
}

func TestCheckBenchTransport(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"grpc", true}, {"tcp", true}, {"", false}, {"udp", false}, {"TCP", false}} {
		if err := checkBenchTransport(tc.name); (err == nil) != tc.ok {
			t.Errorf("checkBenchTransport(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestAllReduceBenchArgs: the rank processes get the transport (and never
// the join token: it goes in the environment).
func TestAllReduceBenchArgs(t *testing.T) {
	o := allreduceBenchOptions{Sizes: []int{4096}, Wire: allreduce.WireFloat32, SegmentBytes: 1024, Transport: benchTransportTCP}
	args := strings.Join(o.args(), " ")
	if !strings.Contains(args, "--transport tcp") {
		t.Errorf("args() = %q; want --transport tcp", args)
	}
	o.LogLevel = rankLogLevel("info")
	if args := strings.Join(o.args(), " "); !strings.Contains(args, "--log-level warn") {
		t.Errorf("args() at the default level = %q; want the ranks at --log-level warn", args)
	}
	o.LogLevel = rankLogLevel("debug")
	if args := strings.Join(o.args(), " "); !strings.Contains(args, "--log-level debug") {
		t.Errorf("args() at debug = %q; want the ranks at --log-level debug", args)
	}
}
