//go:build unix

package gemm

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used (all threads, user and
// system): on a shared machine it measures work even when others steal
// the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
