// Package coordinator owns a Craft run on the head machine: the planner (pure
// logic fed with membership and training events, returning plans), the
// checkpoint Store interface with its in-memory twin MemStore, and (in
// sub-packages) the bbolt store and the gRPC service.
//
// The planner does no I/O and reads no clock: the caller feeds it events and
// Ticks and carries out its decisions (publish a plan, request a checkpoint).
// The Store is the only I/O edge here; boltstore implements it on a file and
// storetest holds the conformance suite both implementations pass.
package coordinator
