package worker

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/craftml/craft/allreduce"
)

// trainRanks trains c on n ranks over an in-memory ring, one goroutine a
// rank, and returns rank 0's per-step losses and final parameters (after
// checking every rank holds bitwise the same parameters).
func trainRanks(t *testing.T, n, steps int) ([]float64, []float32) {
	t.Helper()
	c := tinyConf(t)
	c.Train.GlobalBatch = 12
	net := allreduce.NewMemNetwork(allreduce.DefaultMemConfig())
	ts := net.Endpoints(n)
	peers := allreduce.Addrs(ts)
	jobs := make([]*Job, n)
	trs := make([]*Trainer, n)
	rings := make([]*allreduce.Ring, n)
	for r := range n {
		rings[r] = allreduce.New(ts[r], allreduce.DefaultConfig())
		if err := rings[r].Configure(context.Background(), allreduce.Membership{Run: 1, Gen: 1, Rank: r, Peers: peers}); err != nil {
			t.Fatal(err)
		}
		jobs[r], trs[r] = newJobTrainer(t, c, r, n, RingReducer{Ring: rings[r], Gen: 1})
	}
	t.Cleanup(func() {
		for r := range n {
			rings[r].Close()
			ts[r].Close()
		}
	})
	losses := make([][]float64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range steps {
				s, err := trs[r].TrainStep(context.Background())
				if err != nil {
					errs[r] = err
					return
				}
				losses[r] = append(losses[r], s.Loss)
			}
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d of %d: %v", r, n, err)
		}
	}
	p0 := jobs[0].Model.Arena().Params
	for r := 1; r < n; r++ {
		pr := jobs[r].Model.Arena().Params
		for i := range p0 {
			if math.Float32bits(p0[i]) != math.Float32bits(pr[i]) {
				t.Fatalf("%d ranks: rank %d param %d = %v; rank 0 has %v (ranks must stay bitwise equal)", n, r, i, pr[i], p0[i])
			}
		}
	}
	return losses[0], p0
}

// TestRanksAreEquivalent trains the same config on 1, 2 and 3 ranks with the
// same global batch: the losses and parameters agree up to the order of
// float summation.
func TestRanksAreEquivalent(t *testing.T) {
	const steps = 50
	loss1, p1 := trainRanks(t, 1, steps)
	for _, n := range []int{2, 3} {
		loss, p := trainRanks(t, n, steps)
		for i := range loss1 {
			if d := math.Abs(loss[i] - loss1[i]); d > 1e-4 {
				t.Errorf("%d ranks: loss at step %d = %.7f; 1 rank gives %.7f (diff %.2g > 1e-4)", n, i+1, loss[i], loss1[i], d)
			}
		}
		var worst float64
		for i := range p1 {
			worst = max(worst, math.Abs(float64(p[i]-p1[i])))
		}
		if worst > 1e-4 {
			t.Errorf("%d ranks: max |param - param(1 rank)| = %.2g; want <= 1e-4", n, worst)
		}
	}
}
