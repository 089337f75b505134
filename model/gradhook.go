package model

import "strconv"

// SetGradHook sets f, which Backward then calls as parts of the gradient
// become final: f(lo, hi) says that Arena().Grads[lo:hi] will not change
// again in this Backward. The calls of one Backward cover the whole arena
// exactly once, from its end to its start: the last block with ln_f first,
// each earlier block as its backward ends, the embeddings (wte, wpe) last.
// A data-parallel trainer reduces each part while the rest is computed. f
// runs on Backward's goroutine; nil removes the hook.
func (g *GPT) SetGradHook(f func(lo, hi int)) {
	g.hook = f
	if f == nil || g.hookLo != nil {
		return
	}
	// hookLo[l] is where block l's tensors start in the arena; the blocks
	// lie in order between the embeddings and ln_f (gptTensors).
	g.hookLo = make([]int, g.cfg.NLayer)
	for l := range g.hookLo {
		name := "transformer.h." + strconv.Itoa(l) + ".ln_1.weight"
		for _, t := range g.arena.Tensors {
			if t.Name == name {
				g.hookLo[l] = t.Offset
			}
		}
	}
}

// gradsDone calls the hook, if any, after block l's backward (l = -1: after
// the embeddings').
func (g *GPT) gradsDone(l int) {
	if g.hook == nil {
		return
	}
	lo, hi := 0, len(g.arena.Grads)
	if l >= 0 {
		lo = g.hookLo[l]
	}
	if l+1 < len(g.hookLo) {
		hi = g.hookLo[l+1]
	}
	if l < 0 && len(g.hookLo) > 0 {
		hi = g.hookLo[0]
	}
	g.hook(lo, hi)
}
