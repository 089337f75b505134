package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/craftml/craft/coordinator"
)

// showProgress draws the run's progress bar on a terminal from the
// coordinator's status: steps, loss, validation loss, tokens/s and the ETA,
// until stop is closed.
func showProgress(w io.Writer, svc *coordinator.Service, stop <-chan struct{}) {
	st := svc.Status()
	bar := progressbar.NewOptions(st.TotalSteps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("train"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st = svc.Status()
		desc := fmt.Sprintf("loss %.4f  %5.0f tok/s  %d workers", st.Loss, float64(st.Tokens)/time.Since(start).Seconds(), len(st.Workers))
		if st.LastValLoss > 0 {
			desc += fmt.Sprintf("  val %.4f", st.LastValLoss)
		}
		bar.Describe(desc)
		_ = bar.Set(st.Step)
		select {
		case <-stop:
			_ = bar.Finish()
			return
		case <-tick.C:
		}
	}
}

// logProgress logs the run's progress about every 2 % of its steps (and at
// least every 10 s) when the output is not a terminal.
func logProgress(log *slog.Logger, svc *coordinator.Service, stop <-chan struct{}, steps int) {
	every := max(1, steps/50)
	last, lastLog := -1, time.Now()
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		st := svc.Status()
		if st.Step/every != last/every || (time.Since(lastLog) > 10*time.Second && st.Step != last) {
			last, lastLog = st.Step, time.Now()
			log.Info("progress", "step", st.Step, "of", st.TotalSteps, "loss", round4(st.Loss), "val_loss", round4(st.LastValLoss),
				"tokens_per_s", int(float64(st.Tokens)/time.Since(start).Seconds()), "workers", len(st.Workers), "generation", st.Generation)
		}
	}
}

func round4(x float64) float64 { return float64(int64(x*1e4+0.5)) / 1e4 }

func numCPU() int { return runtime.GOMAXPROCS(0) }
