package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrStop, returned by a callback, ends the run cleanly after the current
// step: the run still evaluates, checkpoints and reports its end.
var ErrStop = errors.New("worker: stop requested")

// Callback observes a run. Each method runs on the training goroutine
// between steps, so it sees a consistent trainer and may snapshot it; a slow
// callback slows training. Embed Hooks to implement only some methods.
type Callback interface {
	OnStep(ctx context.Context, t *Trainer, s StepStats) error
	OnEval(ctx context.Context, t *Trainer, r EvalResult) error
	OnCheckpoint(ctx context.Context, t *Trainer, s *Snapshot) error
	OnEnd(ctx context.Context, t *Trainer, s Summary) error
}

// Hooks is a Callback that does nothing; embed it and override what you need.
type Hooks struct{}

func (Hooks) OnStep(context.Context, *Trainer, StepStats) error       { return nil }
func (Hooks) OnEval(context.Context, *Trainer, EvalResult) error      { return nil }
func (Hooks) OnCheckpoint(context.Context, *Trainer, *Snapshot) error { return nil }
func (Hooks) OnEnd(context.Context, *Trainer, Summary) error          { return nil }

// Summary describes a finished run.
type Summary struct {
	Steps    int           // optimizer steps completed
	Stopped  bool          // a callback ended the run early
	Loss     float64       // training loss of the last step
	Eval     *EvalResult   // the final evaluation, if any
	BestLoss float64       // lowest validation loss
	BestStep int           // and its step
	Elapsed  time.Duration // wall time of this Run call
	Tokens   int64         // loss targets trained on in this Run call
	Samples  int64         // samples trained on in this Run call
}

// LogSteps logs every `every` steps and every evaluation through l.
type LogSteps struct {
	Hooks
	Logger *slog.Logger
	Every  int
}

func (c LogSteps) OnStep(_ context.Context, _ *Trainer, s StepStats) error {
	if c.Every > 0 && s.Step%c.Every == 0 {
		c.Logger.Info("step", "step", s.Step, "loss", round(s.Loss), "lr", s.LR, "grad_norm", round(s.GradNorm),
			"compute_ms", ms(s.Compute), "allreduce_ms", ms(s.Reduce), "update_ms", ms(s.Update))
	}
	return nil
}

func (c LogSteps) OnEval(_ context.Context, _ *Trainer, r EvalResult) error {
	c.Logger.Info("eval", "step", r.Step, "val_loss", round(r.Loss), "accuracy", round(r.Accuracy), "samples", r.Samples)
	return nil
}

// EarlyStop ends the run when Patience evaluations in a row have not
// improved on the best validation loss.
type EarlyStop struct {
	Hooks
	Patience int
}

func (c EarlyStop) OnEval(_ context.Context, t *Trainer, r EvalResult) error {
	if c.Patience > 0 && r.Step-t.state.BestStep > 0 {
		n := 0
		for _, h := range t.state.History {
			if h.Step > t.state.BestStep {
				n++
			}
		}
		if n >= c.Patience {
			return ErrStop
		}
	}
	return nil
}

// KeepBest hands Save a snapshot whenever an evaluation sets a new best
// validation loss.
type KeepBest struct {
	Hooks
	Save func(ctx context.Context, s *Snapshot) error
}

func (c KeepBest) OnEval(ctx context.Context, t *Trainer, r EvalResult) error {
	if t.state.BestStep != r.Step {
		return nil
	}
	s, err := t.Snapshot()
	if err != nil {
		return err
	}
	return c.Save(ctx, s)
}

// SaveCheckpoints hands every periodic checkpoint to Save.
type SaveCheckpoints struct {
	Hooks
	Save func(ctx context.Context, s *Snapshot) error
}

func (c SaveCheckpoints) OnCheckpoint(ctx context.Context, _ *Trainer, s *Snapshot) error {
	return c.Save(ctx, s)
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds()) / 1000) }

func round(x float64) float64 {
	const k = 1e4
	if x > 1e9 || x < -1e9 {
		return x
	}
	return float64(int64(x*k+0.5*sign(x))) / k
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}
