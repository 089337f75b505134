package allreduce_test

import (
	"fmt"
	"testing"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/allreducetest"
)

// BenchmarkAllReduce measures the ring over the memory transport: the cost
// of the algorithm, the copies and the reductions without a network.
//
//	go test -run XXX -bench AllReduce -count 3 ./allreduce/
func BenchmarkAllReduce(b *testing.B) {
	for _, n := range []int{2, 4} {
		for _, size := range []int{1 << 20, 16 << 20} {
			for _, w := range []allreduce.Wire{allreduce.WireFloat32, allreduce.WireBFloat16} {
				b.Run(fmt.Sprintf("n=%d/%dMiB/%v", n, size>>20, w), func(b *testing.B) {
					cfg := allreduce.DefaultConfig()
					cfg.Wire = w
					allreducetest.Bench(b, memCluster(allreduce.DefaultMemConfig()), n, size, cfg)
				})
			}
		}
	}
}
