package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Sampler orders the samples of a split for training. It reads the
// concatenation of one permutation of [0, n) per epoch as a single stream
// and cuts it into global batches: step t takes stream positions
// [t·globalBatch, (t+1)·globalBatch), and position p is element p mod n
// of the permutation of epoch p / n. The permutation of epoch e is a
// Fisher-Yates shuffle driven by a PCG generator seeded with (seed, e).
//
// So every sample is used exactly once per epoch, a batch may straddle two
// epochs, and the order depends on the seed alone, never on the number of
// ranks: Share cuts each global batch into contiguous per-rank parts.
//
// The cursor of a run is just its step: a resumed run that calls Batch
// with the next step continues with the very next samples. Nothing else
// needs saving.
//
// A Sampler caches the permutations of the two epochs it used last, so it
// does not allocate once both are built. It is not safe for concurrent
// use; give each goroutine its own.
type Sampler struct {
	seed     uint64
	n, batch int
	slots    [2]permSlot
	next     int // slot to replace on a miss
	pcg      rand.PCG
	rng      *rand.Rand
}

type permSlot struct {
	epoch int // -1 = empty
	perm  []int32
}

// NewSampler returns the sampler of n samples in global batches of
// globalBatch. It panics if n or globalBatch is not positive or n exceeds
// math.MaxInt32 (caller bugs).
func NewSampler(seed uint64, n, globalBatch int) *Sampler {
	if n <= 0 || n > math.MaxInt32 || globalBatch <= 0 {
		panic(fmt.Sprintf("dataset: NewSampler(n=%d, globalBatch=%d): n must be in [1, 2^31) and globalBatch positive", n, globalBatch))
	}
	s := &Sampler{seed: seed, n: n, batch: globalBatch}
	s.rng = rand.New(&s.pcg)
	s.slots[0].epoch, s.slots[1].epoch = -1, -1
	return s
}

// N is the number of samples.
func (s *Sampler) N() int { return s.n }

// GlobalBatch is the number of samples per step.
func (s *Sampler) GlobalBatch() int { return s.batch }

// Epoch returns the epoch of the first sample of step.
func (s *Sampler) Epoch(step int) int { return step * s.batch / s.n }

// StepsPerEpoch is n / globalBatch, rounded up: the steps until every
// sample has been used at least once from step 0.
func (s *Sampler) StepsPerEpoch() int { return (s.n + s.batch - 1) / s.batch }

// Batch writes the global batch of step (0-based) into dst, which must
// hold globalBatch indices.
func (s *Sampler) Batch(step int, dst []int) {
	if len(dst) < s.batch {
		panic(fmt.Sprintf("dataset: Sampler.Batch: dst holds %d, want %d", len(dst), s.batch))
	}
	s.Range(step, 0, dst[:s.batch])
}

// Range writes len(dst) indices of the global batch of step starting at
// offset within it, such as the share of one rank:
//
//	off, n := Share(globalBatch, ranks, rank)
//	s.Range(step, off, dst[:n])
//
// It panics if step is negative or [offset, offset+len(dst)) is not within
// the batch.
func (s *Sampler) Range(step, offset int, dst []int) {
	if step < 0 || offset < 0 || offset+len(dst) > s.batch {
		panic(fmt.Sprintf("dataset: Sampler.Range(step=%d, offset=%d, len=%d) outside a batch of %d", step, offset, len(dst), s.batch))
	}
	p := step*s.batch + offset
	for k := 0; k < len(dst); {
		e, off := p/s.n, p%s.n
		perm := s.perm(e)
		c := copyIndices(dst[k:], perm[off:])
		k += c
		p += c
	}
}

func copyIndices(dst []int, src []int32) int {
	n := min(len(dst), len(src))
	for i := range n {
		dst[i] = int(src[i])
	}
	return n
}

// perm returns the permutation of epoch e, from the cache or built into
// the least recently built slot.
func (s *Sampler) perm(e int) []int32 {
	for i := range s.slots {
		if s.slots[i].epoch == e {
			return s.slots[i].perm
		}
	}
	sl := &s.slots[s.next]
	s.next ^= 1
	if sl.perm == nil {
		sl.perm = make([]int32, s.n)
	}
	sl.epoch = e
	Permutation(sl.perm, s.seed, uint64(e), &s.pcg, s.rng)
	return sl.perm
}

// Permutation fills dst with the permutation of [0, len(dst)) of epoch e
// of seed: a Fisher-Yates shuffle from the end, drawing j in [0, i] from a
// PCG seeded with (seed, e). pcg and rng (rng drawing from pcg) are
// scratch; pass nil to have them allocated.
func Permutation(dst []int32, seed, e uint64, pcg *rand.PCG, rng *rand.Rand) {
	if pcg == nil {
		pcg = new(rand.PCG)
		rng = rand.New(pcg)
	}
	pcg.Seed(seed, e)
	for i := range dst {
		dst[i] = int32(i)
	}
	for i := len(dst) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		dst[i], dst[j] = dst[j], dst[i]
	}
}

// Share returns the contiguous part [offset, offset+n) of a global batch
// that rank (of ranks) computes. The first globalBatch mod ranks ranks get
// one sample more than the others, so sizes differ by at most one and sum
// to globalBatch. It panics unless 0 <= rank < ranks and globalBatch >= 0.
func Share(globalBatch, ranks, rank int) (offset, n int) {
	if ranks <= 0 || rank < 0 || rank >= ranks || globalBatch < 0 {
		panic(fmt.Sprintf("dataset: Share(%d, %d, %d): need 0 <= rank < ranks and globalBatch >= 0", globalBatch, ranks, rank))
	}
	base, rem := globalBatch/ranks, globalBatch%ranks
	n = base
	if rank < rem {
		n++
	}
	return rank*base + min(rank, rem), n
}
