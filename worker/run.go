package worker

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RunOptions says how far a Run goes and what it evaluates.
type RunOptions struct {
	Until     int      // run until this many steps are complete; 0 = Config.Steps
	FinalEval bool     // evaluate at the end of the run (the last step of Config.Steps)
	EvalAll   bool     // the final evaluation covers every validation sample
	Meta      Snapshot // ConfigHash and Config to stamp on every snapshot
}

// Run trains until opts.Until steps are complete, evaluating every
// EvalEvery steps and checkpointing every CheckpointEvery steps (and both at
// the last step of the run), calling cbs in order at each event. A callback
// returning ErrStop ends the run early and cleanly; any other error ends it
// with that error. ctx ending stops the run between steps or inside an
// all-reduce.
func (t *Trainer) Run(ctx context.Context, opts RunOptions, cbs ...Callback) (Summary, error) {
	until := opts.Until
	if until == 0 {
		until = t.cfg.Steps
	}
	t.meta = opts.Meta
	start := time.Now()
	var sum Summary
	stopped := false
	for t.state.Step < until && !stopped {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		s, err := t.TrainStep(ctx)
		if err != nil {
			return sum, err
		}
		sum.Tokens += int64(s.Tokens)
		sum.Samples += int64(s.Samples)
		for _, cb := range cbs {
			if err := cb.OnStep(ctx, t, s); errors.Is(err, ErrStop) {
				stopped = true
			} else if err != nil {
				return sum, fmt.Errorf("step %d callback: %w", s.Step, err)
			}
		}
		last := s.Step == t.cfg.Steps || stopped
		if (t.cfg.EvalEvery > 0 && s.Step%t.cfg.EvalEvery == 0) || (last && opts.FinalEval) {
			r, err := t.Evaluate(ctx, last && opts.EvalAll)
			if err != nil {
				return sum, err
			}
			sum.Eval = &r
			for _, cb := range cbs {
				if err := cb.OnEval(ctx, t, r); errors.Is(err, ErrStop) {
					stopped = true
				} else if err != nil {
					return sum, fmt.Errorf("evaluation callback at step %d: %w", s.Step, err)
				}
			}
		}
		if (t.cfg.CheckpointEvery > 0 && s.Step%t.cfg.CheckpointEvery == 0) || last || stopped {
			if err := t.checkpoint(ctx, cbs); err != nil {
				return sum, err
			}
		}
	}
	sum.Steps = t.state.Step
	sum.Stopped = stopped
	sum.Loss = t.state.LastLoss
	sum.BestLoss, sum.BestStep = t.state.BestLoss, t.state.BestStep
	sum.Elapsed = time.Since(start)
	for _, cb := range cbs {
		if err := cb.OnEnd(ctx, t, sum); err != nil && !errors.Is(err, ErrStop) {
			return sum, fmt.Errorf("end callback: %w", err)
		}
	}
	return sum, nil
}

func (t *Trainer) checkpoint(ctx context.Context, cbs []Callback) error {
	s, err := t.Snapshot()
	if err != nil {
		return err
	}
	for _, cb := range cbs {
		if err := cb.OnCheckpoint(ctx, t, s); err != nil && !errors.Is(err, ErrStop) {
			return fmt.Errorf("checkpoint at step %d: %w", s.Step, err)
		}
	}
	return nil
}
