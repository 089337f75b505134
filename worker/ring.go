package worker

import (
	"context"

	"github.com/craftml/craft/allreduce"
)

// RingReducer sums over the ranks of one generation of an allreduce.Ring.
type RingReducer struct {
	Ring *allreduce.Ring
	Gen  uint64 // the generation the Ring is configured with
}

// AllReduce sums buf over the ring, tagging the operation with the
// generation and the call number.
func (r RingReducer) AllReduce(ctx context.Context, call uint64, buf []float32) error {
	return r.Ring.AllReduce(ctx, allreduce.Tag{Gen: r.Gen, Step: call}, buf)
}

// Start begins a bucketed sum over the ring (BucketReducer), tagged as
// AllReduce tags it.
func (r RingReducer) Start(ctx context.Context, call uint64, total int) BucketOp {
	return r.Ring.Start(ctx, allreduce.Tag{Gen: r.Gen, Step: call}, total)
}
