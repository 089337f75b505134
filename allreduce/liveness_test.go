package allreduce

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flakyRecv fails the failAt-th Recv (1-based) with a lost-peer error.
type flakyRecv struct {
	Transport
	mu     sync.Mutex
	calls  int
	failAt int
}

func (f *flakyRecv) Recv(ctx context.Context, from int, dst []byte) (Header, int, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.failAt
	f.mu.Unlock()
	if fail {
		return Header{}, 0, &PeerError{Rank: from, Err: ErrPeerLost}
	}
	return f.Transport.Recv(ctx, from, dst)
}

// TestFailureAfterLastSend: a rank whose last receive fails (after, or
// while, it sent everything) spends the generation; the ranks that may have
// completed the operation learn it from the abort at their next operation
// instead of waiting for the spent rank forever.
func TestFailureAfterLastSend(t *testing.T) {
	const n, size = 3, 3 // one element per block: 4 messages per link
	ts := NewMemNetwork(DefaultMemConfig()).Endpoints(n)
	ts[1] = &flakyRecv{Transport: ts[1], failAt: 4}
	rings := make([]*Ring, n)
	for i := range rings {
		rings[i] = New(ts[i], DefaultConfig())
		if err := rings[i].Configure(context.Background(), Membership{Run: 1, Gen: 1, Rank: i, Peers: Addrs(ts)}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i := range rings {
			rings[i].Close()
			ts[i].Close()
		}
	}()
	run := func(step uint64) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range rings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				errs[i] = rings[i].AllReduce(ctx, Tag{Gen: 1, Step: step}, make([]float32, size))
			}()
		}
		wg.Wait()
		return errs
	}
	first := run(1)
	if first[1] == nil {
		t.Fatalf("rank 1 (failing receive): AllReduce = nil; want an error")
	}
	second := run(2)
	for i, err := range second {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("rank %d at the next operation: %v (first: %v); want an abort, not a hang", i, err, first[i])
		}
		if err == nil {
			t.Fatalf("rank %d at the next operation: nil; want an error (rank 1 is spent)", i)
		}
	}
	if !errors.Is(second[1], ErrAborted) {
		t.Errorf("rank 1 at the next operation: %v; want ErrAborted", second[1])
	}
}
