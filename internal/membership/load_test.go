package membership

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoFalseFailuresUnderLoad runs four nodes over real sockets on
// 127.0.0.1 with DefaultConfig while every core spins (as training does),
// and checks that no live node is declared failed; then it kills one node and
// measures the detection time under that load.
func TestNoFalseFailuresUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("saturates the CPUs for seconds; skipped in -short")
	}
	var nodes []*Node
	for _, name := range []string{"coordinator", "w1", "w2", "w3"} {
		cfg := DefaultConfig()
		cfg.Name = name
		cfg.BindAddr = "127.0.0.1:0"
		cfg.Logger = quietLogger()
		n, err := Start(cfg)
		if err != nil {
			t.Fatalf("Start(%s) = %v", name, err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	seed := nodes[0]
	for _, n := range nodes[1:] {
		if err := n.Join(context.Background(), seed.Addr()); err != nil {
			t.Fatalf("%s.Join = %v", n.Name(), err)
		}
	}
	// The joins reach the seed in any order.
	for joined := map[string]bool{}; len(joined) < len(nodes)-1; {
		select {
		case ev := <-seed.Events():
			if ev.Kind == Join {
				joined[ev.ID] = true
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("the seed saw %d joins of %d within 15s", len(joined), len(nodes)-1)
		}
	}

	// Spin every core, with function calls in the loop as real kernels have.
	var stop atomic.Bool
	var spinners sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		spinners.Go(func() {
			x := 1.0
			for !stop.Load() {
				x = spin(x)
			}
		})
	}
	defer func() { stop.Store(true); spinners.Wait() }()

	const watch = 4 * time.Second
	deadline := time.After(watch)
	for done := false; !done; {
		select {
		case ev := <-seed.Events():
			if ev.Kind == Fail || ev.Kind == Leave {
				t.Errorf("under load, the coordinator saw %s of %s, which is alive", ev.Kind, ev.ID)
			}
		case <-deadline:
			done = true
		}
	}

	killed := time.Now()
	nodes[3].Kill()
	waitEvent(t, seed, Fail, "w3")
	t.Logf("no false failure in %s with %d spinning goroutines; a killed member was declared failed after %s under that load",
		watch, runtime.GOMAXPROCS(0), time.Since(killed).Round(10*time.Millisecond))
}

//go:noinline
func spin(x float64) float64 {
	for i := 0; i < 1000; i++ {
		x = x*1.0000001 + 1e-9
	}
	return x
}
