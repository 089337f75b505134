//go:build race

package main

// raceEnabled: the race detector's instrumentation allocates, so tests that
// count heap allocations do not run under it.
const raceEnabled = true
