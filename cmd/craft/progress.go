package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/craftml/craft/worker"
)

// progress is the training progress bar shown on a terminal: steps, loss,
// tokens/s and the ETA.
type progress struct {
	worker.Hooks
	bar     *progressbar.ProgressBar
	start   time.Time
	tokens  int64
	valLoss float64
}

func newProgress(w io.Writer, steps, done int) *progress {
	bar := progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("train"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
	_ = bar.Set(done)
	return &progress{bar: bar, start: time.Now()}
}

func (p *progress) OnStep(_ context.Context, _ *worker.Trainer, s worker.StepStats) error {
	p.tokens += int64(s.Tokens)
	rate := float64(p.tokens) / time.Since(p.start).Seconds()
	desc := fmt.Sprintf("loss %.4f  %6.0f tok/s", s.Loss, rate)
	if p.valLoss > 0 {
		desc += fmt.Sprintf("  val %.4f", p.valLoss)
	}
	p.bar.Describe(desc)
	return p.bar.Set(s.Step)
}

func (p *progress) OnEval(_ context.Context, _ *worker.Trainer, r worker.EvalResult) error {
	p.valLoss = r.Loss
	return nil
}

func (p *progress) OnEnd(context.Context, *worker.Trainer, worker.Summary) error {
	return p.bar.Finish()
}
