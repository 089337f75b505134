//go:build race

package tcptransport

import "sync"

// The race detector does not see that a byte read from a socket was
// written at the other end before: to it, two transports of one process
// (tests) share no memory. Yet the Ring relies on that order: a rank
// overwrites a chunk only after a message that left after the chunk was
// sent. raceMu gives the detector that edge: a Send releases it before
// writing, a Recv acquires it after reading. Race builds only.
var raceMu sync.Mutex

// raceRelease runs before a message is written.
func raceRelease() {
	raceMu.Lock()
	raceMu.Unlock()
}

// raceAcquire runs after a message was read.
func raceAcquire() {
	raceMu.Lock()
	raceMu.Unlock()
}

// raceEnabled: the race detector's instrumentation allocates, so the
// allocation test does not run under it.
const raceEnabled = true
