// Package worker runs the training loop: the same loop serves `craft train`
// (a local cluster in one process) and `craft worker` on a machine of a
// cluster.
//
// A Trainer owns one model replica, its optimizer and the dataset sampler.
// Each Step takes this rank's share of the step's global batch, runs
// forward and backward into the model's flat gradient buffer, sums the
// gradient across ranks through a Reducer (the ring all-reduce; the identity
// when there is one rank), divides by the number of loss targets in the
// whole global batch, clips, and applies the optimizer. Every rank thus
// holds bitwise the same parameters after every step, and the result does
// not depend on how many ranks share the batch (up to the order of the float
// summation).
//
// The trainer's state (step, evaluation history, best validation loss) is
// serialised with State; parameters and optimizer moments travel beside it,
// so a checkpoint restores the run exactly: resuming gives bitwise the same
// parameters as never stopping.
package worker
