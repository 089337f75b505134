package optim

import (
	"errors"
	"fmt"
	"math"
)

// SGDConfig holds the hyperparameters of SGD.
type SGDConfig struct {
	// Momentum is the momentum factor, in [0,1); 0 is plain SGD.
	Momentum float64
	// WeightDecay is the L2 penalty added to the gradient (torch's coupled
	// weight decay), in Decay groups only; >= 0.
	WeightDecay float64
}

// DefaultSGDConfig returns momentum 0.9 and no weight decay.
func DefaultSGDConfig() SGDConfig { return SGDConfig{Momentum: 0.9} }

// Validate reports every field out of range.
func (c SGDConfig) Validate() error {
	var errs []error
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		errs = append(errs, fmt.Errorf("optim: SGDConfig.Momentum %v not in [0,1)", c.Momentum))
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		errs = append(errs, fmt.Errorf("optim: SGDConfig.WeightDecay %v not >= 0", c.WeightDecay))
	}
	return errors.Join(errs...)
}

// SGD is torch.optim.SGD with momentum (dampening 0, not Nesterov). Each
// element, in float32:
//
//	d = g + wd*p            // wd = WeightDecay in Decay groups, else 0
//	b = momentum*b + d      // b starts at 0, so b = d at the first update, as torch
//	p = p - lr*b
//
// With Momentum 0 the buffer is not used: p = p - lr*d.
type SGD struct {
	cfg   SGDConfig
	n     int
	decay []run
	buf   []float32 // (n) momentum buffer
	job   sgdJob    // Step's work for the pool
}

// sgdJob is one Step split over the goroutines of SetThreads.
type sgdJob struct {
	o             *SGD
	step          int
	lr            float64
	params, grads []float32
}

func (j *sgdJob) run(lo, hi int) { j.o.StepRange(j.step, j.lr, j.params, j.grads, lo, hi) }

var _ Optimizer = (*SGD)(nil)

// NewSGD returns SGD over an arena of n parameters with a zero momentum
// buffer. It panics if cfg is invalid or the groups overlap or leave the
// arena (caller bugs).
func NewSGD(cfg SGDConfig, n int, groups []Group) *SGD {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	return &SGD{cfg: cfg, n: n, decay: decayRuns(n, groups), buf: make([]float32, n)}
}

// Len returns the number of parameters the optimizer updates.
func (o *SGD) Len() int { return o.n }

// Config returns the hyperparameters.
func (o *SGD) Config() SGDConfig { return o.cfg }

// Step applies update number step (1-based) with learning rate lr to the
// whole arena, split over the goroutines of SetThreads.
func (o *SGD) Step(step int, lr float64, params, grads []float32) {
	checkRange(step, o.n, params, grads, 0, o.n)
	o.job = sgdJob{o: o, step: step, lr: lr, params: params, grads: grads}
	parallel(o.n, kernelBlock, &o.job)
	o.job = sgdJob{}
}

// StepRange applies update number step (1-based) with learning rate lr to
// params[lo:hi], bitwise as Step does there, on the caller's goroutine. SGD's update does not depend
// on step beyond its check.
func (o *SGD) StepRange(step int, lr float64, params, grads []float32, lo, hi int) {
	checkRange(step, o.n, params, grads, lo, hi)
	mom, rate := float32(o.cfg.Momentum), float32(lr)
	wd := float32(o.cfg.WeightDecay)
	forRuns(o.decay, lo, hi, func(lo, hi int, decay bool) {
		w := float32(0)
		if decay {
			w = wd
		}
		sgd(params[lo:hi], grads[lo:hi], o.buf[lo:hi], mom, w, rate)
	})
}

// sgd updates p from g with momentum buffer b (unused when mom is 0).
func sgd(p, g, b []float32, mom, wd, lr float32) {
	n := len(p)
	g, b = g[:n], b[:n]
	for i := range p {
		d := g[i]
		if wd != 0 {
			d += float32(wd * p[i])
		}
		if mom != 0 {
			d = float32(mom*b[i]) + d
			b[i] = d
		}
		p[i] -= float32(lr * d)
	}
}
