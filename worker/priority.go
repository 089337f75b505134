package worker

// ComputeNiceDefault is the niceness the training goroutine's thread runs at
// by default (NodeConfig.ComputeNice).
//
// A worker's compute and its ring's network goroutines share the worker's
// cores. With one core per worker (the common layout when several workers
// share a machine, and `bench/scaling.sh`), a message from a neighbour waits
// until the kernel lets the network thread preempt the compute thread, and
// the neighbour waits with it: the all-reduce of a step that overlaps
// backward then finishes milliseconds after backward does. Running compute
// slightly below the network threads (nice 5: about a third of their CPU
// weight while both want the core) lets a network wakeup take the core at
// once; compute still gets the core whenever the network has nothing to do.
// Measured on conf/shakespeare-baby.yaml, 2 workers pinned to one core
// each, three alternating runs of 250 steps: the wait for the gradient's sum
// after backward (/status allreduce_ms) fell from 2.5-3.3 ms to 1.8 ms a
// step, the step from 30.1-32.1 ms to 29.6-30.4 ms.
const ComputeNiceDefault = 5
