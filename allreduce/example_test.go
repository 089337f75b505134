package allreduce_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/craftml/craft/allreduce"
)

// Three ranks in one process sum their gradients.
func Example() {
	ts := allreduce.NewMemNetwork(allreduce.DefaultMemConfig()).Endpoints(3)
	peers := allreduce.Addrs(ts)
	grads := [][]float32{{1, 2, 3, 4}, {10, 20, 30, 40}, {100, 200, 300, 400}}
	var wg sync.WaitGroup
	for rank, tr := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.Close()
			ring := allreduce.New(tr, allreduce.DefaultConfig())
			defer ring.Close()
			ctx := context.Background()
			if err := ring.Configure(ctx, allreduce.Membership{Run: 1, Gen: 1, Rank: rank, Peers: peers}); err != nil {
				panic(err)
			}
			// Two buckets, as a backward pass would produce them.
			op := ring.Start(ctx, allreduce.Tag{Gen: 1, Step: 1}, 4)
			op.Submit(grads[rank][2:])
			op.Submit(grads[rank][:2])
			if err := op.Wait(); err != nil {
				panic(err)
			}
		}()
	}
	wg.Wait()
	fmt.Println(grads[0], grads[1], grads[2])
	// Output: [111 222 333 444] [111 222 333 444] [111 222 333 444]
}
