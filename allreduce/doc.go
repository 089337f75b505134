// Package allreduce sums a []float32 across the ranks of a data-parallel run
// with a ring all-reduce, over a Transport.
//
// The package knows nothing of models or networks: it reduces float32 slices
// in place and talks through the Transport interface (transport.go), which
// MemNetwork implements in memory for tests and benchmarks and
// allreduce/grpctransport implements over long-lived gRPC streams. The
// conformance suite every transport passes is allreduce/allreducetest.
//
// # Usage
//
// Each rank owns a Transport and a Ring over it. For every membership
// generation (published by the coordinator) each rank calls
// Ring.Configure with the run id, the generation, its rank and the address of
// every rank in ring order; then, once per step,
//
//	err := ring.AllReduce(ctx, allreduce.Tag{Gen: gen, Step: step}, grads)
//
// or, to overlap communication with the backward pass,
//
//	op := ring.Start(ctx, allreduce.Tag{Gen: gen, Step: step}, len(grads))
//	for each bucket, in the same order on every rank: op.Submit(bucket)
//	err := op.Wait()
//
// # Algorithm
//
// Reduce-scatter, then all-gather, around the ring rank → rank+1. The buffer
// is cut into blocks of at most Config.SegmentBytes on the wire, dealt
// round-robin to the ranks (plan.go); each block is one message per hop.
// A sender goroutine and a receiver goroutine per Ring run the schedule, so
// the next segment is on the wire while the last one is being reduced, and
// the Transport's buffering keeps the link busy. Every rank sends and
// receives 2(n-1)/n of the buffer, which is what busbw counts.
//
// # Fencing
//
// Every message carries the run id, the generation, the step, the sender's
// rank and its segment number. The transport drops messages of another run
// or an older generation (leftovers of a spent generation) and holds those
// of a newer one, failing the current operation with ErrFutureGeneration
// naming the peer that moved on. The Ring then requires each data message to
// be exactly the next one of the schedule (kind, step, sender, segment and
// size); anything else fails the operation with ErrProtocol naming the
// sender, and is never summed. Within a live generation every message is
// consumed by the operation it belongs to, so such a message can only come
// from a rank that disagrees about the operation (length, buckets, Config,
// or the order of calls): an error, not something to skip.
//
// # Guarantees and caveats
//
// Results are bitwise equal on every rank and bitwise reproducible (see Ring
// for the exact statement, Wire for the error of the 16-bit formats). Every
// message is fenced by run, generation, step, sender and segment; a failure
// anywhere ends the operation on every rank quickly with a *PeerError naming
// the rank to blame and spends the generation (ErrAborted): the caller
// configures the next one. Ranks must agree on Config.SegmentBytes,
// Config.Wire, the buffer length and the bucket lengths.
package allreduce
