//go:build !unix

package gemm

import "time"

// cpuTime is not measured here; the benchmarks then report only wall time.
func cpuTime() time.Duration { return 0 }
