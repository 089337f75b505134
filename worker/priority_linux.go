package worker

import (
	"fmt"
	"runtime"
	"syscall"
)

// lowerThreadPriority binds the calling goroutine to its OS thread for good
// and sets that thread's niceness to nice (Linux nices threads one by one).
// The thread ends with the goroutine (Go discards a thread whose goroutine
// exits locked), so the lower priority never leaks to other goroutines.
func lowerThreadPriority(nice int) error {
	if nice <= 0 {
		return nil
	}
	runtime.LockOSThread()
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice); err != nil {
		return fmt.Errorf("set the compute thread's niceness to %d: %w", nice, err)
	}
	return nil
}
