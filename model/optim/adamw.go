package optim

import (
	"errors"
	"fmt"
	"math"
)

// AdamWConfig holds the hyperparameters of AdamW.
type AdamWConfig struct {
	// Beta1 is the decay rate of the first moment, in [0,1).
	Beta1 float64
	// Beta2 is the decay rate of the second moment, in [0,1).
	Beta2 float64
	// Eps is added to the bias-corrected root of the second moment; > 0.
	Eps float64
	// WeightDecay is the decoupled weight decay per unit of learning rate,
	// applied to Decay groups only; >= 0.
	WeightDecay float64
}

// DefaultAdamWConfig returns nanoGPT's train.py defaults: betas (0.9, 0.95),
// eps 1e-8 (torch's default), weight decay 0.1.
func DefaultAdamWConfig() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
}

// Validate reports every field out of range.
func (c AdamWConfig) Validate() error {
	var errs []error
	if !(c.Beta1 >= 0 && c.Beta1 < 1) {
		errs = append(errs, fmt.Errorf("optim: AdamWConfig.Beta1 %v not in [0,1)", c.Beta1))
	}
	if !(c.Beta2 >= 0 && c.Beta2 < 1) {
		errs = append(errs, fmt.Errorf("optim: AdamWConfig.Beta2 %v not in [0,1)", c.Beta2))
	}
	if !(c.Eps > 0) || math.IsInf(c.Eps, 0) {
		errs = append(errs, fmt.Errorf("optim: AdamWConfig.Eps %v not > 0", c.Eps))
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		errs = append(errs, fmt.Errorf("optim: AdamWConfig.WeightDecay %v not >= 0", c.WeightDecay))
	}
	return errors.Join(errs...)
}

// AdamW is torch.optim.AdamW (amsgrad off, maximize off) over a parameter
// arena. For update number t (from 1) with learning rate lr, each element,
// in float32:
//
//	p = p * (1 - lr*wd)                 // wd = WeightDecay in Decay groups, else 0
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	p = p - (lr/(1-beta1^t)) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// The scalar factors are computed in float64 and rounded to float32, as
// torch does with its python-float hyperparameters.
type AdamW struct {
	cfg   AdamWConfig
	n     int
	decay []run
	m, v  []float32 // (n) first and second moments
	job   adamwJob  // Step's work for the pool
}

// adamwJob is one Step split over the goroutines of SetThreads.
type adamwJob struct {
	o             *AdamW
	step          int
	lr            float64
	params, grads []float32
}

func (j *adamwJob) run(lo, hi int) { j.o.StepRange(j.step, j.lr, j.params, j.grads, lo, hi) }

var _ Optimizer = (*AdamW)(nil)

// NewAdamW returns AdamW over an arena of n parameters with zero moments.
// Weight decay applies where a group has Decay. It panics if cfg is invalid
// or the groups overlap or leave the arena (caller bugs).
func NewAdamW(cfg AdamWConfig, n int, groups []Group) *AdamW {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	return &AdamW{cfg: cfg, n: n, decay: decayRuns(n, groups), m: make([]float32, n), v: make([]float32, n)}
}

// Len returns the number of parameters the optimizer updates.
func (o *AdamW) Len() int { return o.n }

// Config returns the hyperparameters.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// Step applies update number step (1-based) with learning rate lr to the
// whole arena, split over the goroutines of SetThreads.
func (o *AdamW) Step(step int, lr float64, params, grads []float32) {
	checkRange(step, o.n, params, grads, 0, o.n)
	o.job = adamwJob{o: o, step: step, lr: lr, params: params, grads: grads}
	parallel(o.n, kernelBlock, &o.job)
	o.job = adamwJob{}
}

// StepRange applies update number step (1-based) with learning rate lr to
// params[lo:hi], bitwise as Step does there, on the caller's goroutine.
func (o *AdamW) StepRange(step int, lr float64, params, grads []float32, lo, hi int) {
	checkRange(step, o.n, params, grads, lo, hi)
	withDecay := o.consts(step, lr, o.cfg.WeightDecay)
	noDecay := o.consts(step, lr, 0)
	forRuns(o.decay, lo, hi, func(lo, hi int, decay bool) {
		k := &noDecay
		if decay {
			k = &withDecay
		}
		adamw(params[lo:hi], grads[lo:hi], o.m[lo:hi], o.v[lo:hi], k)
	})
}

// consts returns the float32 factors of update number step.
func (o *AdamW) consts(step int, lr, wd float64) adamwConsts {
	t := float64(step)
	bc1 := 1 - math.Pow(o.cfg.Beta1, t)
	bc2 := 1 - math.Pow(o.cfg.Beta2, t)
	return adamwConsts{
		beta1:    float32(o.cfg.Beta1),
		oneMB1:   float32(1 - o.cfg.Beta1),
		beta2:    float32(o.cfg.Beta2),
		oneMB2:   float32(1 - o.cfg.Beta2),
		decay:    float32(1 - lr*wd),
		bc2Sqrt:  float32(math.Sqrt(bc2)),
		eps:      float32(o.cfg.Eps),
		stepSize: float32(lr / bc1),
	}
}

// adamwConsts is the layout the assembly kernel reads: keep in sync.
type adamwConsts struct {
	beta1, oneMB1, beta2, oneMB2  float32
	decay, bc2Sqrt, eps, stepSize float32
}

// adamwGo is the portable kernel; adamw (per architecture) must give
// bitwise its results. The explicit float32 conversions forbid fused
// multiply-adds.
func adamwGo(p, g, m, v []float32, k *adamwConsts) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	for i := range p {
		gi := g[i]
		mi := float32(k.beta1*m[i]) + float32(k.oneMB1*gi)
		vi := float32(k.beta2*v[i]) + float32(k.oneMB2*float32(gi*gi))
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))/k.bc2Sqrt) + k.eps
		p[i] = float32(p[i]*k.decay) - float32(k.stepSize*mi)/d
	}
}
