package e2e

import (
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestBenchLink runs `craft bench link` in each of its modes between two
// real processes: every direction it reports moved bytes, and the duplex
// summary adds up its two directions.
func TestBenchLink(t *testing.T) {
	rate := regexp.MustCompile(`(?m)^(?:(.*): )?([0-9.]+) GB in [0-9.]+ s, blocks of 256K: ([0-9.]+) GB/s$`)
	both := regexp.MustCompile(`(?m)^per direction: ([0-9.]+) GB/s \(the slower\), both: ([0-9.]+) GB/s$`)
	for _, mode := range [][]string{nil, {"--duplex"}, {"--unix"}, {"--duplex", "--unix"}} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			if len(mode) > 0 && mode[len(mode)-1] == "--unix" && runtime.GOOS != "linux" {
				t.Skip("abstract Unix sockets are Linux's")
			}
			args := append([]string{"bench", "link", "--seconds", "0.3", "--block", "256K"}, mode...)
			r := mustRun(t, t.TempDir(), time.Minute, args...)
			lines := rate.FindAllStringSubmatch(r.stdout, -1)
			want := 1
			if len(mode) > 0 && mode[0] == "--duplex" {
				want = 2
			}
			if len(lines) != want {
				t.Fatalf("%d bandwidth lines; want %d:\n%s", len(lines), want, r.stdout)
			}
			var sum, slowest float64
			for _, l := range lines {
				gb, _ := strconv.ParseFloat(l[2], 64)
				gbps, _ := strconv.ParseFloat(l[3], 64)
				if gb <= 0 || gbps <= 0 {
					t.Errorf("%s: %s GB at %s GB/s; want both > 0", l[1], l[2], l[3])
				}
				sum += gbps
				if slowest == 0 || gbps < slowest {
					slowest = gbps
				}
			}
			if want == 1 {
				return
			}
			m := both.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("no duplex summary:\n%s", r.stdout)
			}
			per, _ := strconv.ParseFloat(m[1], 64)
			total, _ := strconv.ParseFloat(m[2], 64)
			if diff := total - sum; diff > 0.002 || diff < -0.002 || per-slowest > 0.002 || per-slowest < -0.002 {
				t.Errorf("summary %v per direction, %v both; the directions say %v slowest, %v in all", per, total, slowest, sum)
			}
		})
	}
}
