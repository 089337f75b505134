//go:build !race

package tcptransport

// raceRelease and raceAcquire order socket I/O for the race detector (see
// race.go); without it they do nothing.
func raceRelease() {}
func raceAcquire() {}

const raceEnabled = false
