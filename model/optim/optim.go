package optim

import (
	"errors"
	"fmt"
	"sort"
)

// Errors returned by UnmarshalBinary.
var (
	// ErrCorruptState reports optimizer state that is truncated, has trailing
	// bytes or fails its checksum.
	ErrCorruptState = errors.New("optim: corrupt optimizer state")
	// ErrStateVersion reports optimizer state written in a format version this
	// code does not read.
	ErrStateVersion = errors.New("optim: unsupported optimizer state version")
	// ErrStateMismatch reports optimizer state of another kind of optimizer or
	// of another number of parameters.
	ErrStateMismatch = errors.New("optim: optimizer state does not match the optimizer")
)

// Group is a range of the parameter arena, [Offset, Offset+Len). Decay marks
// the ranges that get weight decay (2-D weight matrices and embeddings, as
// nanoGPT); parameters outside every Decay group are updated without it.
type Group struct {
	Offset, Len int
	Decay       bool
}

// Optimizer updates a parameter arena from its gradient arena.
type Optimizer interface {
	// StepRange applies update number step (1-based) with learning rate lr to
	// params[lo:hi] from grads[lo:hi]. params and grads are whole arenas; the
	// result over [lo,hi) is bitwise that of Step. It panics on a caller bug:
	// step < 1, arenas of the wrong length, or a range outside them.
	StepRange(step int, lr float64, params, grads []float32, lo, hi int)
	// Step applies update number step (1-based) to the whole arena.
	Step(step int, lr float64, params, grads []float32)
	// MarshalBinary encodes the optimizer state (its moments), not its
	// configuration.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary restores state written by MarshalBinary of an optimizer
	// of the same kind and size. On error the state is left unchanged.
	UnmarshalBinary([]byte) error
}

// run is a half-open range [lo, hi) of the arena.
type run struct{ lo, hi int }

// decayRuns validates groups against an arena of n parameters and returns
// the ranges with Decay, sorted and merged. It panics on a caller bug.
func decayRuns(n int, groups []Group) []run {
	if n < 0 {
		panic(fmt.Sprintf("optim: negative arena length %d", n))
	}
	all := make([]run, 0, len(groups))
	for i, g := range groups {
		if g.Offset < 0 || g.Len < 0 || g.Offset+g.Len > n {
			panic(fmt.Sprintf("optim: group %d [%d,%d) outside the arena of %d", i, g.Offset, g.Offset+g.Len, n))
		}
		if g.Len > 0 {
			all = append(all, run{g.Offset, g.Offset + g.Len})
		}
	}
	// Overlap is checked over every group, with or without Decay.
	sort.Slice(all, func(i, j int) bool { return all[i].lo < all[j].lo })
	for i := 1; i < len(all); i++ {
		if all[i].lo < all[i-1].hi {
			panic(fmt.Sprintf("optim: groups [%d,%d) and [%d,%d) overlap", all[i-1].lo, all[i-1].hi, all[i].lo, all[i].hi))
		}
	}
	var runs []run
	for _, g := range groups {
		if g.Decay && g.Len > 0 {
			runs = append(runs, run{g.Offset, g.Offset + g.Len})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].lo < runs[j].lo })
	merged := runs[:0]
	for _, r := range runs {
		if k := len(merged); k > 0 && merged[k-1].hi == r.lo {
			merged[k-1].hi = r.hi
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// checkRange panics unless params and grads have length n and [lo,hi) lies
// within them.
func checkRange(step, n int, params, grads []float32, lo, hi int) {
	if step < 1 {
		panic(fmt.Sprintf("optim: step %d; steps count from 1", step))
	}
	if len(params) != n || len(grads) != n {
		panic(fmt.Sprintf("optim: arenas of %d params and %d grads; want %d", len(params), len(grads), n))
	}
	if lo < 0 || lo > hi || hi > n {
		panic(fmt.Sprintf("optim: range [%d,%d) outside the arena of %d", lo, hi, n))
	}
}

// forRuns splits [lo,hi) into maximal pieces that are inside or outside the
// decay runs and calls f on each, in order.
func forRuns(runs []run, lo, hi int, f func(lo, hi int, decay bool)) {
	pos := lo
	// First run that ends after lo.
	i := sort.Search(len(runs), func(i int) bool { return runs[i].hi > lo })
	for ; i < len(runs) && pos < hi; i++ {
		r := runs[i]
		if r.lo >= hi {
			break
		}
		if r.lo > pos {
			f(pos, r.lo, false)
			pos = r.lo
		}
		e := min(r.hi, hi)
		f(pos, e, true)
		pos = e
	}
	if pos < hi {
		f(pos, hi, false)
	}
}
