//go:build race

package gemm

// raceEnabled shrinks the heaviest tests, which the race detector slows
// tenfold; the threaded paths still run.
const raceEnabled = true
