package allreduce

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// memRings returns n configured Rings (generation 1) over a memory network.
func memRings(t *testing.T, n int, cfg Config) ([]*Ring, []Transport) {
	t.Helper()
	ts := NewMemNetwork(DefaultMemConfig()).Endpoints(n)
	rings := make([]*Ring, n)
	for i := range rings {
		rings[i] = New(ts[i], cfg)
		if err := rings[i].Configure(context.Background(), Membership{Run: 1, Gen: 1, Rank: i, Peers: Addrs(ts)}); err != nil {
			t.Fatalf("Configure(rank %d) = %v; want nil", i, err)
		}
	}
	t.Cleanup(func() {
		for i := range rings {
			rings[i].Close()
			ts[i].Close()
		}
	})
	return rings, ts
}

func TestValidate(t *testing.T) {
	bad := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"default", DefaultConfig().Validate(), ""},
		{"mem default", DefaultMemConfig().Validate(), ""},
		{"segment", bad(func(c *Config) { c.SegmentBytes = 8 }).Validate(), "SegmentBytes"},
		{"wire", bad(func(c *Config) { c.Wire = 9 }).Validate(), "Wire"},
		{"abort timeout", bad(func(c *Config) { c.AbortTimeout = 0 }).Validate(), "AbortTimeout"},
		{"queue", MemConfig{}.Validate(), "QueueMessages"},
		{"delay", MemConfig{QueueMessages: 1, MaxDelay: -1}.Validate(), "MaxDelay"},
		{"no peers", Membership{}.Validate(), "Peers is empty"},
		{"rank", Membership{Rank: 2, Peers: []string{"a", "b"}}.Validate(), "Rank 2"},
		{"dup", Membership{Peers: []string{"a", "a"}}.Validate(), `"a"`},
		{"empty addr", Membership{Peers: []string{"a", ""}}.Validate(), "Peers[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				if tc.err != nil {
					t.Fatalf("Validate() = %v; want nil", tc.err)
				}
				return
			}
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.field) {
				t.Fatalf("Validate() = %v; want an error naming %s", tc.err, tc.field)
			}
		})
	}
}

func TestParseWire(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Wire
		err  error
	}{
		{"", WireFloat32, nil},
		{"float32", WireFloat32, nil},
		{"bfloat16", WireBFloat16, nil},
		{"float16", WireFloat16, nil},
		{"fp8", 0, ErrUnknownWire},
	} {
		got, err := ParseWire(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseWire(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && tc.in != "" && got.String() != tc.in {
			t.Errorf("ParseWire(%q).String() = %q; want %q", tc.in, got.String(), tc.in)
		}
	}
}

func TestBlockSize(t *testing.T) {
	for _, tc := range []struct{ total, n, seg, want int }{
		{0, 3, 100, 1},
		{1, 3, 100, 1},
		{3, 8, 100, 1},
		{300, 3, 100, 100},
		{301, 3, 100, 51}, // 6 blocks, 2 per rank
		{1 << 18, 3, 1 << 16, 43691},
	} {
		if got := blockSize(tc.total, tc.n, tc.seg); got != tc.want {
			t.Errorf("blockSize(%d, %d, %d) = %d; want %d", tc.total, tc.n, tc.seg, got, tc.want)
		}
	}
}

func TestRingMisuse(t *testing.T) {
	ctx := context.Background()
	t.Run("not configured", func(t *testing.T) {
		tr := NewMemNetwork(DefaultMemConfig()).Endpoint()
		defer tr.Close()
		r := New(tr, DefaultConfig())
		defer r.Close()
		if err := r.AllReduce(ctx, Tag{}, nil); !errors.Is(err, ErrNotConfigured) {
			t.Fatalf("AllReduce before Configure = %v; want ErrNotConfigured", err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		rings, _ := memRings(t, 2, DefaultConfig())
		op := rings[0].Start(ctx, Tag{Gen: 1, Step: 1}, 10)
		if err := rings[0].AllReduce(ctx, Tag{Gen: 1, Step: 2}, make([]float32, 10)); !errors.Is(err, ErrBusy) {
			t.Fatalf("AllReduce during an operation = %v; want ErrBusy", err)
		}
		if err := rings[0].Configure(ctx, Membership{Run: 1, Gen: 2, Rank: 0, Peers: rings[0].Membership().Peers}); !errors.Is(err, ErrBusy) {
			t.Fatalf("Configure during an operation = %v; want ErrBusy", err)
		}
		rings[0].Close()
		if err := op.Wait(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait after Close = %v; want ErrClosed", err)
		}
		if err := rings[0].AllReduce(ctx, Tag{Gen: 1, Step: 3}, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("AllReduce after Close = %v; want ErrClosed", err)
		}
	})
	t.Run("incomplete", func(t *testing.T) {
		for _, n := range []int{1, 2} {
			rings, _ := memRings(t, n, DefaultConfig())
			op := rings[0].Start(ctx, Tag{Gen: 1, Step: 1}, 10)
			op.Submit(make([]float32, 4))
			if err := op.Wait(); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("n=%d: Wait after 4 of 10 elements = %v; want ErrIncomplete", n, err)
			}
		}
	})
	t.Run("submit beyond total", func(t *testing.T) {
		rings, _ := memRings(t, 1, DefaultConfig())
		op := rings[0].Start(ctx, Tag{Gen: 1, Step: 1}, 3)
		defer func() {
			if recover() == nil {
				t.Fatalf("Submit beyond the total did not panic")
			}
		}()
		op.Submit(make([]float32, 4))
	})
	t.Run("deadline", func(t *testing.T) {
		rings, _ := memRings(t, 2, DefaultConfig())
		ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		// Rank 1 never joins: rank 0's deadline ends the operation.
		if err := rings[0].AllReduce(ctx, Tag{Gen: 1, Step: 1}, make([]float32, 10)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AllReduce past its deadline = %v; want DeadlineExceeded", err)
		}
	})
}

func TestSingleRankIsNoOp(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Wire = WireBFloat16
	rings, _ := memRings(t, 1, cfg)
	buf := []float32{1.2345678, -3}
	if err := rings[0].AllReduce(context.Background(), Tag{Gen: 1, Step: 1}, buf); err != nil || buf[0] != 1.2345678 || buf[1] != -3 {
		t.Fatalf("AllReduce on one rank = %v, %v; want nil, the buffer untouched", err, buf)
	}
}
