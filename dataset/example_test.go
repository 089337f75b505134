package dataset_test

import (
	"context"
	"fmt"

	"github.com/craftml/craft/dataset"
)

func ExampleOpen() {
	src, err := dataset.Open(dataset.DefaultConfig()) // 2-digit addition
	if err != nil {
		panic(err)
	}
	x, y := make([]int32, src.Width()), make([]int32, src.Width())
	src.Sample(dataset.Train, 0, x, y, nil)
	fmt.Println(src.Len(dataset.Train), src.Len(dataset.Val), src.Width(), src.Classes())
	fmt.Println(src.Tokenizer().Decode(x))
	fmt.Println(y)
	// Output:
	// 9000 1000 8 12
	// 30+26=65
	// [-1 -1 -1 -1 -1 6 5 0]
}

func ExampleSampler() {
	const n, globalBatch, ranks = 10, 4, 3
	s := dataset.NewSampler(42, n, globalBatch)
	dst := make([]int, globalBatch)
	for step := range 3 {
		s.Batch(step, dst) // step 2 takes the last 2 of epoch 0 and the first 2 of epoch 1
		fmt.Print("step ", step, " epoch ", s.Epoch(step), ":")
		for r := range ranks {
			off, k := dataset.Share(globalBatch, ranks, r)
			fmt.Print(" rank", r, dst[off:off+k])
		}
		fmt.Println()
	}
	// Output:
	// step 0 epoch 0: rank0 [3 2] rank1 [5] rank2 [6]
	// step 1 epoch 0: rank0 [4 1] rank1 [0] rank2 [7]
	// step 2 epoch 0: rank0 [9 8] rank1 [3] rank2 [6]
}

func ExamplePack() {
	src, _ := dataset.Open(dataset.DefaultConfig())
	m, shards, err := dataset.Pack(src, 4096) // on the coordinator
	if err != nil {
		panic(err)
	}
	// On a worker: only the shards of its samples are fetched and verified.
	w, err := dataset.NewShardedSource(m, dataset.MemFetcher(shards), dataset.ShardedConfig{})
	if err != nil {
		panic(err)
	}
	mine := []int{5, 4100, 8999}
	fmt.Println(len(m.Shards), m.ShardsFor(dataset.Train, mine))
	if err := w.Prefetch(context.Background(), dataset.Train, mine); err != nil {
		panic(err)
	}
	x, y := make([]int32, w.Width()), make([]int32, w.Width())
	w.Sample(dataset.Train, 4100, x, y, nil)
	fmt.Println(w.Resident(), w.Tokenizer().Decode(x))
	// Output:
	// 4 [0 1 2]
	// 3 43+73=61
}
