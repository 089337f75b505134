// Package coordinator owns a Craft run on the head machine: the Planner (pure
// logic fed with joins, failures, step reports and commits, returning plans),
// the Service that runs it for the gRPC server (joins, sessions, shards,
// checkpoint commits, status), and the checkpoint Store interface with its
// in-memory twin MemStore. Sub-packages: boltstore (the Store on a bbolt
// file), storetest (the conformance suite every Store passes) and grpcapi
// (the gRPC server and client of internal/craftpb).
//
// The Planner does no I/O and reads no clock: the Service feeds it events and
// carries out the plans it returns. Its scenarios live in testdata/planner
// (go test -run TestPlannerData -rewrite regenerates them).
package coordinator
