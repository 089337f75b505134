package worker

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/craftml/craft/conf"
)

// shared returns the path of a dataset in ../shared/datasets, or skips the
// test saying why.
func shared(t *testing.T, name string) string {
	t.Helper()
	p := "../../shared/datasets/" + name
	if _, err := os.Stat(p); err != nil {
		t.Skipf("needs %s (the shared datasets beside the repository): %v", p, err)
	}
	return p
}

// meanLoss trains c for its steps and returns the mean training loss of the
// first and of the last five steps.
func meanLoss(t *testing.T, c conf.Config) (first, last float64) {
	t.Helper()
	_, tr := newJobTrainer(t, c, 0, 1, Local{})
	for i := 0; i < c.Train.Steps; i++ {
		s, err := tr.TrainStep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			first += s.Loss / 5
		}
		if i >= c.Train.Steps-5 {
			last += s.Loss / 5
		}
	}
	return first, last
}

// TestTextLossFalls is the short version of the Tiny Shakespeare run of
// bench/quality.sh: a small GPT on the characters learns in 60 steps.
func TestTextLossFalls(t *testing.T) {
	c, err := conf.Load("../conf/shakespeare-baby.yaml", []string{
		"data.path=" + shared(t, "tinyshakespeare.txt"),
		"model.n_layer=1", "model.n_embd=32", "model.n_head=2", "model.block_size=32",
		"train.steps=60", "train.warmup_steps=5", "train.learning_rate=3e-3",
	})
	if err != nil {
		t.Fatal(err)
	}
	first, last := meanLoss(t, c)
	if !(last < first-0.5) {
		t.Errorf("text: mean loss of the last 5 steps = %.3f; want at least 0.5 below the first 5 (%.3f)", last, first)
	}
}

// TestDigitsLossFalls is the short version of the digits run: the MLP's
// loss falls and it classifies most held-out digits after 150 steps.
func TestDigitsLossFalls(t *testing.T) {
	c, err := conf.Load("../conf/digits-mlp.yaml", []string{
		"data.path=" + shared(t, "digits.csv"), "train.steps=150", "train.warmup_steps=10",
	})
	if err != nil {
		t.Fatal(err)
	}
	first, last := meanLoss(t, c)
	if !(last < first/4) {
		t.Errorf("digits: mean loss of the last 5 steps = %.3f; want below a quarter of the first 5 (%.3f)", last, first)
	}
}

func TestEarlyStopAndKeepBest(t *testing.T) {
	c := tinyConf(t)
	c.Train.Steps = 40
	c.Train.EvalEvery = 2
	_, tr := newJobTrainer(t, c, 0, 1, Local{})
	var saved []uint64
	keep := KeepBest{Save: func(_ context.Context, s *Snapshot) error {
		saved = append(saved, s.Step)
		return nil
	}}
	// Patience 0 never stops; patience 1 stops at the first evaluation that
	// does not improve on the best.
	sum, err := tr.Run(context.Background(), RunOptions{}, keep, EarlyStop{Patience: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := tr.State()
	if len(saved) == 0 || saved[len(saved)-1] != uint64(st.BestStep) {
		t.Errorf("KeepBest saved steps %v; want the last to be the best step %d", saved, st.BestStep)
	}
	for i := 1; i < len(saved); i++ {
		if saved[i] <= saved[i-1] {
			t.Errorf("KeepBest saved steps %v; want increasing (a save only on a new best)", saved)
		}
	}
	if sum.Stopped {
		last := st.History[len(st.History)-1]
		if last.Loss < st.BestLoss || last.Step == st.BestStep {
			t.Errorf("stopped at step %d with loss %v; best %v at %d: EarlyStop(1) stops only after a non-improving evaluation", last.Step, last.Loss, st.BestLoss, st.BestStep)
		}
	} else if sum.Steps != c.Train.Steps {
		t.Errorf("Run ended at step %d without stopping; want %d", sum.Steps, c.Train.Steps)
	}
	if err := (EarlyStop{Patience: 0}).OnEval(context.Background(), tr, EvalResult{Step: 99, Loss: 9}); errors.Is(err, ErrStop) {
		t.Error("EarlyStop{Patience: 0}.OnEval = ErrStop; want it never to stop")
	}
}
