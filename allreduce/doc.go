// Package allreduce sums a []float32 across the ranks of a data-parallel run
// with a ring all-reduce (reduce-scatter, then all-gather), over a Transport.
//
// The package knows nothing of models or networks: it reduces float32 slices
// and talks through the Transport interface (transport.go), which MemNetwork
// implements in memory for tests and benchmarks and the grpctransport package
// implements over gRPC streams. The conformance suite every transport passes
// lives in allreducetest.
package allreduce
