package worker

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
)

// tinyConf is a GPT small enough to train in a test: addition of 1-digit
// numbers.
func tinyConf(t testing.TB) conf.Config {
	t.Helper()
	c := conf.Default()
	c.Data.Kind = "addition"
	c.Data.Digits = 1
	c.Data.ValFraction = 0.2
	c.Model.Kind = "gpt"
	c.Model.NLayer, c.Model.NHead, c.Model.NEmbd = 1, 2, 16
	c.Model.BlockSize = 0
	c.Train.GlobalBatch = 8
	c.Train.Steps = 30
	c.Train.LearningRate, c.Train.MinLR = 3e-3, 3e-4
	c.Train.WarmupSteps = 5
	c.Train.DecaySteps = 0
	c.Train.EvalEvery = 0
	c.Train.GradAccum = 1
	c.Checkpoint.Every = 0
	return c
}

func newJobTrainer(t testing.TB, c conf.Config, rank, ranks int, red Reducer) (*Job, *Trainer) {
	t.Helper()
	j := newJob(t, c)
	tr, err := j.NewTrainer(rank, ranks, red)
	if err != nil {
		t.Fatal(err)
	}
	return j, tr
}

// newJob builds the job of c.
func newJob(t testing.TB, c conf.Config) *Job {
	t.Helper()
	src, err := OpenSource(c)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Build(c, src)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestLossFalls(t *testing.T) {
	c := tinyConf(t)
	c.Train.Steps = 60
	first, last := meanLoss(t, c)
	if !(last < first*0.8) {
		t.Errorf("mean loss of the last 5 steps = %.4f; want below 0.8 x the first 5 (%.4f)", last, first)
	}
}

// TestResumeIsBitwise checks that stopping, snapshotting and restoring into
// a fresh replica gives bitwise the parameters of never stopping.
func TestResumeIsBitwise(t *testing.T) {
	c := tinyConf(t)
	ctx := context.Background()
	jA, a := newJobTrainer(t, c, 0, 1, Local{})
	if _, err := a.Run(ctx, RunOptions{}); err != nil {
		t.Fatal(err)
	}

	_, b := newJobTrainer(t, c, 0, 1, Local{})
	if _, err := b.Run(ctx, RunOptions{Until: 13}); err != nil {
		t.Fatal(err)
	}
	snap, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	jC, cc := newJobTrainer(t, c, 0, 1, Local{})
	if err := cc.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := cc.Step(); got != 13 {
		t.Fatalf("Step() after Restore = %d; want 13", got)
	}
	if _, err := cc.Run(ctx, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	pa, pc := jA.Model.Arena().Params, jC.Model.Arena().Params
	for i := range pa {
		if math.Float32bits(pa[i]) != math.Float32bits(pc[i]) {
			t.Fatalf("param %d after resume = %v; want %v (never stopped)", i, pc[i], pa[i])
		}
	}
}

func TestEvaluateAccuracyCountsSamples(t *testing.T) {
	c := tinyConf(t)
	_, tr := newJobTrainer(t, c, 0, 1, Local{})
	r, err := tr.Evaluate(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := OpenSource(c)
	if want := src.Len(dataset.Val); r.Samples != want {
		t.Errorf("Evaluate(all).Samples = %d; want %d", r.Samples, want)
	}
	if r.Accuracy < 0 || r.Accuracy > 1 || r.Loss <= 0 {
		t.Errorf("Evaluate = %+v; want accuracy in [0,1] and a positive loss", r)
	}
	if len(tr.State().History) != 1 {
		t.Errorf("History has %d entries after one evaluation; want 1", len(tr.State().History))
	}
}

func TestStateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"not json", "{"},
		{"negative step", `{"step":-1}`},
		{"best after step", `{"step":3,"best_step":4}`},
		{"eval after step", `{"step":3,"history":[{"step":9}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			if err := s.UnmarshalBinary([]byte(tt.in)); err == nil {
				t.Errorf("UnmarshalBinary(%q) = nil; want an error", tt.in)
			}
		})
	}
}

func FuzzStateUnmarshal(f *testing.F) {
	for _, s := range []string{`{"step":3,"history":[{"step":2,"loss":1.5}],"best_step":2}`, "{", "null", `{"step":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var s2 State
		if err := s2.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if s2.Step != s.Step || !slices.Equal(s2.History, s.History) {
			t.Fatalf("round trip changed the state: %+v -> %+v", s, s2)
		}
	})
}
