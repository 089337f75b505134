package worker

import (
	"context"
	"math/rand/v2"

	"github.com/craftml/craft/dataset"
)

// EvalResult is one evaluation on the validation split, identical on every
// rank.
type EvalResult struct {
	Step     int     `json:"step"`     // optimizer steps completed when it ran
	Loss     float64 `json:"loss"`     // mean loss per target
	Accuracy float64 `json:"accuracy"` // fraction of samples whose every target is predicted exactly
	Samples  int     `json:"samples"`  // validation samples evaluated
}

// evalIndices picks the validation samples of a periodic evaluation: the
// first k of a fixed permutation, so successive evaluations are comparable.
func evalIndices(seed uint64, n, k int) []int {
	if k <= 0 || k > n {
		k = n
	}
	rng := rand.New(rand.NewPCG(seed, 0xe7a1))
	p := rng.Perm(n)
	return p[:k]
}

// Evaluate measures the model on the validation split: on every validation
// sample when all is true, else on the fixed subset of eval_batches global
// batches. Ranks share the samples and sum their counts through the
// reducer, so every rank must call it at the same point.
func (t *Trainer) Evaluate(ctx context.Context, all bool) (EvalResult, error) {
	idx := t.evalIx
	if all {
		n := t.src.Len(dataset.Val)
		idx = make([]int, n)
		for i := range idx {
			idx[i] = i
		}
	}
	off, n := 0, len(idx)
	if n >= t.cfg.Ranks {
		off, n = dataset.Share(len(idx), t.cfg.Ranks, t.cfg.Rank)
	} else if t.cfg.Rank != 0 {
		n = 0
	}
	mine := idx[off : off+n]
	if err := t.prefetch(ctx, dataset.Val, mine); err != nil {
		return EvalResult{}, err
	}
	var lossSum float64
	var count, correct int
	w := t.batch.T
	for lo := 0; lo < len(mine); lo += t.cfg.MicroBatch {
		rows := min(t.cfg.MicroBatch, len(mine)-lo)
		t.fill(dataset.Val, mine[lo:lo+rows], 0, 0)
		ls, c := t.model.Forward(&t.batch, false)
		lossSum += ls
		count += c
		t.model.Predict(t.pred[:rows*w])
		for r := 0; r < rows; r++ {
			ok := true
			for j := r * w; j < (r+1)*w; j++ {
				if y := t.batch.Targets[j]; y >= 0 && t.pred[j] != y {
					ok = false
					break
				}
			}
			if ok {
				correct++
			}
		}
	}
	stats := []float32{float32(lossSum), float32(count), float32(correct), float32(len(mine))}
	if err := t.reduce(ctx, callEval, stats); err != nil {
		return EvalResult{}, err
	}
	r := EvalResult{Step: t.state.Step, Samples: int(stats[3])}
	if stats[1] > 0 {
		r.Loss = float64(stats[0]) / float64(stats[1])
	}
	if stats[3] > 0 {
		r.Accuracy = float64(stats[2]) / float64(stats[3])
	}
	t.state.record(r)
	return r, nil
}
