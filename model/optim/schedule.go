package optim

import (
	"errors"
	"fmt"
	"math"
)

// Schedule is nanoGPT's learning-rate schedule (get_lr in its train.py):
// linear warm-up, then cosine decay from MaxLR to MinLR, then MinLR.
//
// Steps are numbered as nanoGPT's iter_num: the first training iteration is
// 0, so iteration it runs optimizer update number it+1.
type Schedule struct {
	// MaxLR is the learning rate at the end of warm-up.
	MaxLR float64
	// MinLR is the learning rate after DecaySteps.
	MinLR float64
	// WarmupSteps is the number of warm-up iterations.
	WarmupSteps int
	// DecaySteps is the iteration at which the cosine reaches MinLR
	// (nanoGPT's lr_decay_iters; the caller resolves "0 = total steps").
	DecaySteps int
}

// Validate reports every field out of range.
func (s Schedule) Validate() error {
	var errs []error
	if !(s.MaxLR >= 0) || math.IsInf(s.MaxLR, 0) {
		errs = append(errs, fmt.Errorf("optim: Schedule.MaxLR %v not >= 0", s.MaxLR))
	}
	if !(s.MinLR >= 0) || math.IsInf(s.MinLR, 0) {
		errs = append(errs, fmt.Errorf("optim: Schedule.MinLR %v not >= 0", s.MinLR))
	}
	if s.WarmupSteps < 0 {
		errs = append(errs, fmt.Errorf("optim: Schedule.WarmupSteps %d < 0", s.WarmupSteps))
	}
	if s.DecaySteps < 0 {
		errs = append(errs, fmt.Errorf("optim: Schedule.DecaySteps %d < 0", s.DecaySteps))
	}
	return errors.Join(errs...)
}

// LR returns the learning rate of iteration it (0-based), exactly as
// nanoGPT's get_lr(it):
//
//	it <  WarmupSteps:  MaxLR * (it+1) / (WarmupSteps+1)
//	it >  DecaySteps:   MinLR
//	otherwise:          MinLR + 0.5*(1+cos(pi*r))*(MaxLR-MinLR), r = (it-WarmupSteps)/(DecaySteps-WarmupSteps)
//
// Where nanoGPT divides by zero (it == WarmupSteps == DecaySteps) LR
// returns MaxLR, the limit of the cosine at its start. DecaySteps below
// WarmupSteps gives MinLR right after warm-up, as nanoGPT does.
func (s Schedule) LR(it int) float64 {
	if it < s.WarmupSteps {
		return s.MaxLR * float64(it+1) / float64(s.WarmupSteps+1)
	}
	if it > s.DecaySteps {
		return s.MinLR
	}
	if s.DecaySteps == s.WarmupSteps {
		return s.MaxLR
	}
	ratio := float64(it-s.WarmupSteps) / float64(s.DecaySteps-s.WarmupSteps)
	coeff := 0.5 * (1.0 + math.Cos(math.Pi*ratio))
	return s.MinLR + coeff*(s.MaxLR-s.MinLR)
}
