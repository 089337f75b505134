// Package optim updates a model's parameters from its gradients: AdamW and
// SGD with momentum (the update rules of torch.optim), nanoGPT's learning-rate
// schedule, clipping by global norm and scaling.
//
// Every optimizer walks one flat []float32 of parameters and one of
// gradients, the arenas of package model, so the optimizer, the all-reduce
// and the checkpoint see the same layout. Groups mark which ranges of the
// arena get weight decay (the 2-D weights, as nanoGPT's configure_optimizers
// does); everything outside a Decay group is updated without decay.
//
// Usage, one training step (nanoGPT numbering: iteration it counts from 0,
// the optimizer's update number from 1):
//
//	sched := optim.Schedule{MaxLR: 1e-3, MinLR: 1e-4, WarmupSteps: 100, DecaySteps: 5000}
//	opt := optim.NewAdamW(optim.DefaultAdamWConfig(), len(params), groups)
//	for it := 0; it < steps; it++ {
//		// ... zero grads, forward, backward, all-reduce, optim.Scale(grads, 1/globalBatch)
//		optim.ClipGlobalNorm(grads, 1.0)
//		opt.Step(it+1, sched.LR(it), params, grads)
//	}
//
// Determinism: an update is computed element by element with the same
// sequence of float32 operations whatever the range, the CPU features or the
// thread count, so StepRange over a sub-range is bitwise the same as Step
// over that range, the AVX2 kernels give bitwise the results of the portable
// Go code, and ranks on different machines stay identical. No operation is
// fused (no FMA). ClipGlobalNorm sums in float64 in a fixed order (see
// SumSquares).
//
// Threads: SetThreads(n) splits Step, ClipGlobalNorm and Scale over n
// goroutines (default 1); results do not depend on n. StepRange always runs
// on the caller's goroutine.
//
// Step, StepRange, ClipGlobalNorm and Scale allocate nothing in the steady
// state. An optimizer is not safe for concurrent use, except that StepRange
// calls on disjoint ranges may run concurrently.
package optim
