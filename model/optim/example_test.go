package optim_test

import (
	"fmt"

	"github.com/craftml/craft/model/optim"
)

// Minimise (p-3)² with AdamW under nanoGPT's schedule.
func Example() {
	params := []float32{0}
	grads := make([]float32, 1)
	opt := optim.NewAdamW(optim.AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8}, 1, nil)
	sched := optim.Schedule{MaxLR: 0.1, MinLR: 0.01, WarmupSteps: 10, DecaySteps: 500}
	for it := 0; it < 500; it++ {
		grads[0] = 2 * (params[0] - 3)
		optim.ClipGlobalNorm(grads, 1)
		opt.Step(it+1, sched.LR(it), params, grads)
	}
	fmt.Printf("p = %.2f, lr(0) = %.4f, lr(10) = %.2f\n", params[0], sched.LR(0), sched.LR(10))
	// Output: p = 3.00, lr(0) = 0.0091, lr(10) = 0.10
}
