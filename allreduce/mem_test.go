package allreduce

import (
	"context"
	"errors"
	"testing"
)

func configured(t *testing.T, net *MemNetwork, n int, gen uint64) []Transport {
	t.Helper()
	ts := net.Endpoints(n)
	for i, tr := range ts {
		if err := tr.Configure(context.Background(), Membership{Run: 7, Gen: gen, Rank: i, Peers: Addrs(ts)}); err != nil {
			t.Fatalf("Configure(rank %d) = %v; want nil", i, err)
		}
	}
	t.Cleanup(func() {
		for _, tr := range ts {
			tr.Close()
		}
	})
	return ts
}

func TestMemSendRecvFencing(t *testing.T) {
	ctx := context.Background()
	ts := configured(t, NewMemNetwork(DefaultMemConfig()), 2, 1)
	send := func(gen uint64, b byte) {
		t.Helper()
		if err := ts[0].Send(ctx, 1, Header{Run: 7, Gen: gen, Step: uint64(b)}, []byte{b}); err != nil {
			t.Fatalf("Send = %v; want nil", err)
		}
	}
	send(0, 1) // stale: dropped
	send(1, 2)
	send(2, 3) // future: held
	dst := make([]byte, 4)
	h, n, err := ts[1].Recv(ctx, 0, dst)
	if err != nil || n != 1 || dst[0] != 2 || h.Gen != 1 {
		t.Fatalf("Recv = %v, %d, %v, payload %d; want gen 1, 1 byte, nil, 2", h, n, err, dst[0])
	}
	_, _, err = ts[1].Recv(ctx, 0, dst)
	var pe *PeerError
	if !errors.Is(err, ErrFutureGeneration) || !errors.As(err, &pe) || pe.Rank != 0 {
		t.Fatalf("Recv = %v; want ErrFutureGeneration naming peer 0", err)
	}
	if err := ts[1].Configure(ctx, Membership{Run: 7, Gen: 2, Rank: 1, Peers: Addrs(ts)}); err != nil {
		t.Fatal(err)
	}
	h, n, err = ts[1].Recv(ctx, 0, dst)
	if err != nil || n != 1 || dst[0] != 3 || h.Gen != 2 {
		t.Fatalf("Recv = %v, %d, %v, payload %d; want gen 2, 1 byte, nil, 3", h, n, err, dst[0])
	}
	ts[0].Close()
	_, _, err = ts[1].Recv(ctx, 0, dst)
	if !errors.Is(err, ErrPeerLost) || !errors.As(err, &pe) || pe.Rank != 0 {
		t.Fatalf("Recv after peer Close = %v; want ErrPeerLost naming peer 0", err)
	}
}
