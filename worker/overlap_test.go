package worker

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/conf"
)

// plainReducer hides the BucketReducer methods of its Reducer, so the
// trainer sums the whole gradient after backward.
type plainReducer struct{ r Reducer }

func (p plainReducer) AllReduce(ctx context.Context, call uint64, buf []float32) error {
	return p.r.AllReduce(ctx, call, buf)
}

// countingReducer counts the parts submitted to its BucketReducer.
type countingReducer struct {
	BucketReducer
	parts *int
}

func (c countingReducer) Start(ctx context.Context, call uint64, total int) BucketOp {
	return countingOp{c.BucketReducer.Start(ctx, call, total), c.parts}
}

type countingOp struct {
	BucketOp
	parts *int
}

func (c countingOp) Submit(part []float32) { *c.parts++; c.BucketOp.Submit(part) }

// trainRing trains c on n ranks of an in-memory ring, each rank's reducer
// made by wrap, and returns every step's loss and rank 0's parameters.
func trainRing(t *testing.T, c conf.Config, n, steps int, wrap func(Reducer) Reducer) ([]float64, []float32) {
	t.Helper()
	return trainRingSerial(t, c, n, steps, wrap, false)
}

// trainRingSerial is trainRing with Job.SerialReduce set to serial.
func trainRingSerial(t *testing.T, c conf.Config, n, steps int, wrap func(Reducer) Reducer, serial bool) ([]float64, []float32) {
	t.Helper()
	net := allreduce.NewMemNetwork(allreduce.DefaultMemConfig())
	ts := net.Endpoints(n)
	peers := allreduce.Addrs(ts)
	jobs := make([]*Job, n)
	trs := make([]*Trainer, n)
	for r := range n {
		ring := allreduce.New(ts[r], allreduce.DefaultConfig())
		t.Cleanup(func() { ring.Close(); ts[r].Close() })
		if err := ring.Configure(context.Background(), allreduce.Membership{Run: 1, Gen: 1, Rank: r, Peers: peers}); err != nil {
			t.Fatal(err)
		}
		jobs[r] = newJob(t, c)
		jobs[r].SerialReduce = serial
		var err error
		if trs[r], err = jobs[r].NewTrainer(r, n, wrap(RingReducer{Ring: ring, Gen: 1})); err != nil {
			t.Fatal(err)
		}
	}
	losses := make([][]float64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			for range steps {
				s, err := trs[r].TrainStep(context.Background())
				if err != nil {
					errs[r] = err
					return
				}
				losses[r] = append(losses[r], s.Loss)
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d of %d: %v", r, n, err)
		}
	}
	p0 := jobs[0].Model.Arena().Params
	for r := 1; r < n; r++ {
		if !slices.Equal(losses[r], losses[0]) {
			t.Fatalf("rank %d losses %v; rank 0 has %v", r, losses[r], losses[0])
		}
		if !slices.Equal(jobs[r].Model.Arena().Params, p0) {
			t.Fatalf("rank %d parameters differ from rank 0's (ranks must stay bitwise equal)", r)
		}
	}
	return losses[0], slices.Clone(p0)
}

// TestOverlappedReduce checks that summing the gradient part by part while
// backward runs (RingReducer is a BucketReducer, the GPT reports its parts)
// trains like summing it after backward: bitwise with 2 ranks, where a sum
// of two numbers does not depend on the order, and within float rounding
// with 3; with one micro-batch per step and with gradient accumulation.
func TestOverlappedReduce(t *testing.T) {
	const steps = 8
	for _, tc := range []struct {
		ranks, accum int
		bitwise      bool
	}{
		{2, 1, true}, {2, 4, true}, {3, 1, false}, {3, 4, false},
	} {
		t.Run(fmt.Sprintf("ranks=%d,grad_accum=%d", tc.ranks, tc.accum), func(t *testing.T) {
			c := tinyConf(t)
			c.Train.GlobalBatch = 12
			c.Train.GradAccum = tc.accum
			if _, ok := any(RingReducer{}).(BucketReducer); !ok {
				t.Fatal("RingReducer is not a BucketReducer: nothing overlaps")
			}
			parts := make([]int, tc.ranks)
			rank := 0
			lossB, pB := trainRing(t, c, tc.ranks, steps, func(r Reducer) Reducer {
				rank++
				return countingReducer{r.(BucketReducer), &parts[rank-1]}
			})
			// One part per block, one for the embeddings, one for the loss statistics.
			if want := steps * (c.Model.NLayer + 2); parts[0] != want {
				t.Errorf("parts submitted by rank 0 = %d; want %d (%d steps x (%d blocks + 2))", parts[0], want, steps, c.Model.NLayer)
			}
			lossP, pP := trainRing(t, c, tc.ranks, steps, func(r Reducer) Reducer { return plainReducer{r} })
			if tc.bitwise {
				if !slices.Equal(lossB, lossP) {
					t.Errorf("losses overlapped = %v; after backward %v (want bitwise equal)", lossB, lossP)
				}
				if !slices.Equal(pB, pP) {
					t.Errorf("parameters overlapped differ bitwise from after backward")
				}
				return
			}
			for i := range lossP {
				if d := math.Abs(lossB[i] - lossP[i]); d > 1e-5 {
					t.Errorf("loss at step %d overlapped = %.7f; after backward %.7f", i+1, lossB[i], lossP[i])
				}
			}
			var worst float64
			for i := range pP {
				worst = max(worst, math.Abs(float64(pB[i]-pP[i])))
			}
			if worst > 1e-5 {
				t.Errorf("max |param overlapped - param after backward| = %.2g; want <= 1e-5", worst)
			}
		})
	}
}

// TestSerialReduce: with Job.SerialReduce (a worker on one core) the trainer
// sums the gradient after backward even over a BucketReducer: nothing is
// submitted part by part, and it trains bitwise like a reducer that cannot
// take parts.
func TestSerialReduce(t *testing.T) {
	const steps, ranks = 6, 3
	c := tinyConf(t)
	c.Train.GlobalBatch = 12
	parts := make([]int, ranks)
	rank := 0
	lossS, pS := trainRingSerial(t, c, ranks, steps, func(r Reducer) Reducer {
		rank++
		return countingReducer{r.(BucketReducer), &parts[rank-1]}
	}, true)
	if parts[0] != 0 {
		t.Errorf("parts submitted by rank 0 with SerialReduce = %d; want 0 (the gradient summed after backward)", parts[0])
	}
	lossP, pP := trainRing(t, c, ranks, steps, func(r Reducer) Reducer { return plainReducer{r} })
	if !slices.Equal(lossS, lossP) || !slices.Equal(pS, pP) {
		t.Errorf("SerialReduce trains unlike summing after backward: losses %v, want %v (parameters equal: %v)", lossS, lossP, slices.Equal(pS, pP))
	}
}
