package main

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/grpcapi"
	"github.com/craftml/craft/worker"
)

// equivConf is a small GPT on the addition task, trained for 50 steps with
// the same global batch whatever the number of workers.
func equivConf(t *testing.T) conf.Config {
	t.Helper()
	c, err := conf.LoadDefault([]string{
		"model.n_layer=1", "model.n_embd=32", "model.n_head=2",
		"train.steps=50", "train.warmup_steps=5", "train.global_batch=24", "train.eval_every=0",
		"checkpoint.every=25", "train.threads=1",
		"cluster.coordinator_addr=127.0.0.1:0", "cluster.http_addr=",
		"checkpoint.path=" + filepath.Join(t.TempDir(), "craft.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runLocal trains c on n in-process workers over real gRPC and returns the
// loss of every step (as reported by each worker: they must agree) and the
// final parameters.
func runLocal(t *testing.T, c conf.Config, n int) ([]float64, []float32) {
	t.Helper()
	var mu sync.Mutex
	losses := make([]float64, c.Train.Steps+1)
	seen := make([]bool, c.Train.Steps+1)
	onReport := func(w string, r coordinator.Report) {
		if r.HasEval || r.Step < 1 || r.Step > c.Train.Steps {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		// The step's parts cross gRPC too (the coordinator's /status shows them).
		if parts := r.Compute + r.AllReduce + r.Update; r.Compute <= 0 || (r.Duration-parts).Abs() > time.Microsecond {
			t.Errorf("%d workers: step %d from %s: compute %v + all-reduce %v + update %v vs duration %v; want compute > 0 and the parts adding up",
				n, r.Step, w, r.Compute, r.AllReduce, r.Update, r.Duration)
		}
		if seen[r.Step] && losses[r.Step] != r.Loss {
			t.Errorf("%d workers: step %d loss %v from %s; another worker reported %v", n, r.Step, r.Loss, w, losses[r.Step])
		}
		losses[r.Step], seen[r.Step] = r.Loss, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.Cluster.MinWorkers, c.Cluster.MaxWorkers = n, n
	h, err := localCluster(ctx, c, clusterOptions{workers: n, mode: freshRun, onReport: onReport})
	if h != nil {
		defer h.stop()
	}
	if err != nil {
		t.Fatalf("%d workers: %v", n, err)
	}
	cp, err := h.store.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Step != uint64(c.Train.Steps) {
		t.Fatalf("%d workers: last checkpoint at step %d; want %d", n, cp.Step, c.Train.Steps)
	}
	params := make([]float32, len(cp.Params)/4)
	worker.DecodeFloats(params, cp.Params)
	return losses[1:], params
}

// TestWorkerCountsAreEquivalent: the same config trained with 1, 2 and 3
// workers over real gRPC gives the same per-step losses and parameters,
// up to the order of float summation.
func TestWorkerCountsAreEquivalent(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three local clusters; skipped in -short mode")
	}
	c := equivConf(t)
	loss1, p1 := runLocal(t, c, 1)
	for _, n := range []int{2, 3} {
		c := equivConf(t)
		loss, p := runLocal(t, c, n)
		for i := range loss1 {
			if d := math.Abs(loss[i] - loss1[i]); d > 1e-4 {
				t.Errorf("%d workers: loss at step %d = %.7f; 1 worker gives %.7f (diff %.2g > 1e-4)", n, i+1, loss[i], loss1[i], d)
			}
		}
		var worst float64
		for i := range p1 {
			worst = max(worst, math.Abs(float64(p[i]-p1[i])))
		}
		if worst > 1e-4 {
			t.Errorf("%d workers: max |param - param(1 worker)| = %.2g; want <= 1e-4", n, worst)
		}
		t.Logf("%d workers: max |param diff| vs 1 worker = %.2g", n, worst)
	}
}

// TestTCPTransportIsEquivalent: the plain-TCP ring transport
// (allreduce.transport tcp, keyed by the join token) trains the same run as
// gRPC: the same per-step losses and, the ring's order of summation being
// the same, bitwise the same parameters.
func TestTCPTransportIsEquivalent(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two local clusters; skipped in -short mode")
	}
	withToken := func(transport string) conf.Config {
		c := equivConf(t)
		c.AllReduce.Transport = transport
		c.Cluster.JoinToken = "a token for the test ring"
		return c
	}
	lossG, pG := runLocal(t, withToken("grpc"), 2)
	lossT, pT := runLocal(t, withToken("tcp"), 2)
	for i := range lossG {
		if lossT[i] != lossG[i] {
			t.Errorf("tcp: loss at step %d = %.7f; grpc gives %.7f", i+1, lossT[i], lossG[i])
		}
	}
	for i := range pG {
		if pT[i] != pG[i] {
			t.Fatalf("tcp: param %d = %v; grpc gives %v (want bitwise equal)", i, pT[i], pG[i])
		}
	}
}

// TestLocalClusterKeepsOthersOut: craft train's in-process cluster, with no
// cluster.join_token, makes up a token of its own: a process that dials its
// coordinator without one is refused. With a configured token, that one is
// the key.
func TestLocalClusterKeepsOthersOut(t *testing.T) {
	for _, configured := range []string{"", "a-configured-join-token"} {
		c := equivConf(t)
		c.Train.Steps, c.Train.WarmupSteps, c.Checkpoint.Every = 3, 1, 0
		c.Cluster.MinWorkers, c.Cluster.MaxWorkers = 1, 1
		c.Cluster.JoinToken = configured
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		h, err := localCluster(ctx, c, clusterOptions{workers: 1, mode: freshRun})
		if err != nil {
			cancel()
			t.Fatalf("token %q: %v", configured, err)
		}
		for _, try := range []string{"", "wrong-token", configured} {
			client, err := grpcapi.Dial(h.addr, try)
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.Fetch(ctx, 0)
			client.Close()
			refused := err != nil && strings.Contains(err.Error(), "join token")
			if want := try != configured || configured == ""; refused != want {
				t.Errorf("configured token %q, dialled with %q: Fetch error %v; want refused=%v", configured, try, err, want)
			}
		}
		h.stop()
		cancel()
	}
}
