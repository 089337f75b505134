// Package allreducetest is the conformance suite every allreduce.Transport
// passes, run through allreduce.Ring: the raw transport contract (order,
// buffer ownership, fencing, cancellation, Close, peer loss) and the ring's
// guarantees on top of it (sums within the wire format's error bound,
// bitwise-equal ranks, determinism, buckets, dying ranks, stale and future
// generations, cancellation). It also holds a benchmark helper.
//
// Usage, in a transport's tests:
//
//	func TestConformance(t *testing.T) {
//		allreducetest.Run(t, func(t testing.TB, n int) []allreduce.Transport { ... })
//	}
//
// Run the suite under -race, with goleak.VerifyTestMain in the package.
package allreducetest

import (
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/craftml/craft/allreduce"
)

// NewCluster returns n fresh, unconfigured transports that can reach one
// another. It must close them when t ends (t.Cleanup); the suite may close
// some of them earlier, so Close must be idempotent.
type NewCluster func(t testing.TB, n int) []allreduce.Transport

// FailDeadline bounds how long the suite lets a rank take to notice a
// failure elsewhere (the design goal is 100 ms; the bound leaves room for
// -race and a loaded machine). The measured latencies are logged.
const FailDeadline = 2 * time.Second

// runID is the run id of every cluster of the suite.
const runID = 0xc4af7

// Options trims the suite for a second run of the same transport.
type Options struct {
	// SkipLarge leaves out the buffers of a million elements (for a slow
	// fake network, once the plain transport has run them).
	SkipLarge bool
}

// Run runs the whole suite against the transports newCluster makes.
func Run(t *testing.T, newCluster NewCluster) { RunWith(t, newCluster, Options{}) }

// RunWith runs the suite with opts.
func RunWith(t *testing.T, newCluster NewCluster, opts Options) {
	t.Run("Transport", func(t *testing.T) { RunTransport(t, newCluster) })
	t.Run("Sizes", func(t *testing.T) { testSizes(t, newCluster) })
	if !opts.SkipLarge {
		t.Run("Large", func(t *testing.T) { testLarge(t, newCluster) })
	}
	t.Run("Determinism", func(t *testing.T) { testDeterminism(t, newCluster) })
	t.Run("Buckets", func(t *testing.T) { testBuckets(t, newCluster) })
	t.Run("PeerDies", func(t *testing.T) { testPeerDies(t, newCluster) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, newCluster) })
	t.Run("StaleGeneration", func(t *testing.T) { testStaleGeneration(t, newCluster) })
	t.Run("FutureGeneration", func(t *testing.T) { testFutureGeneration(t, newCluster) })
	t.Run("WrongStep", func(t *testing.T) { testWrongStep(t, newCluster) })
}

// Cluster is n Rings over n transports, for tests and benchmarks.
type Cluster struct {
	T     []allreduce.Transport
	Rings []*allreduce.Ring
	Gen   uint64
	// Members are the indices (into T) of the ranks of generation Gen, in
	// ring order.
	Members []int
}

// NewRings makes n transports with newCluster, a Ring over each with cfg,
// and configures generation 1 with every transport at the rank of its index.
// The Rings are closed when tb ends.
func NewRings(tb testing.TB, newCluster NewCluster, n int, cfg allreduce.Config) *Cluster {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{T: newCluster(tb, n)}
	if len(c.T) != n {
		tb.Fatalf("newCluster(%d) returned %d transports", n, len(c.T))
	}
	for _, tr := range c.T {
		c.Rings = append(c.Rings, allreduce.New(tr, cfg))
	}
	tb.Cleanup(func() {
		for _, r := range c.Rings {
			r.Close()
		}
	})
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	c.Configure(tb, 1, all)
	return c
}

// Configure moves the members (indices into T, in ring order) to generation
// gen.
func (c *Cluster) Configure(tb testing.TB, gen uint64, members []int) {
	tb.Helper()
	peers := make([]string, len(members))
	for i, m := range members {
		peers[i] = c.T[m].Addr()
	}
	errs := c.each(members, func(rank, idx int) error {
		return c.Rings[idx].Configure(context.Background(), allreduce.Membership{Run: runID, Gen: gen, Rank: rank, Peers: peers})
	})
	for rank, err := range errs {
		if err != nil {
			tb.Fatalf("Configure(gen %d, rank %d) = %v; want nil", gen, rank, err)
		}
	}
	c.Gen, c.Members = gen, append([]int(nil), members...)
}

// Each runs f(rank) for every member at once and returns the errors by rank.
func (c *Cluster) Each(f func(rank int, r *allreduce.Ring) error) []error {
	return c.each(c.Members, func(rank, idx int) error { return f(rank, c.Rings[idx]) })
}

func (c *Cluster) each(members []int, f func(rank, idx int) error) []error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for rank, idx := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[rank] = f(rank, idx)
		}()
	}
	wg.Wait()
	return errs
}

// AllReduce runs AllReduce of bufs[rank] on every member at step.
func (c *Cluster) AllReduce(step uint64, bufs [][]float32) []error {
	return c.Each(func(rank int, r *allreduce.Ring) error {
		return r.AllReduce(context.Background(), allreduce.Tag{Gen: c.Gen, Step: step}, bufs[rank])
	})
}

func noErrors(tb testing.TB, what string, errs []error) {
	tb.Helper()
	for rank, err := range errs {
		if err != nil {
			tb.Fatalf("%s: rank %d: %v; want nil", what, rank, err)
		}
	}
}

// inputs returns n random buffers of size elements, seeded.
func inputs(seed uint64, n, size int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, uint64(n)<<32|uint64(size)))
	bufs := make([][]float32, n)
	for i := range bufs {
		bufs[i] = make([]float32, size)
		for j := range bufs[i] {
			bufs[i][j] = float32(rng.NormFloat64())
		}
	}
	return bufs
}

func clone(bufs [][]float32) [][]float32 {
	out := make([][]float32, len(bufs))
	for i, b := range bufs {
		out[i] = append([]float32(nil), b...)
	}
	return out
}

// unitRoundoff returns u and η of allreduce.Wire's error bound.
func unitRoundoff(w allreduce.Wire) (u, eta float64) {
	switch w {
	case allreduce.WireBFloat16:
		return 0x1p-8, 0x1p-134
	case allreduce.WireFloat16:
		return 0x1p-11, 0x1p-25
	}
	return 0x1p-24, 0
}

// checkSum checks that every rank holds exactly the bits of
// allreduce.NaiveSum (the ring's specification: summation order fixed by
// ring position), and that they are the sum of in within the error bound of
// the wire format.
func checkSum(tb testing.TB, cfg allreduce.Config, in, out [][]float32) {
	tb.Helper()
	n, w := len(in), cfg.Wire
	want := allreduce.NaiveSum(cfg, in)
	u, eta := unitRoundoff(w)
	for j := range want {
		for r := range n {
			if math.Float32bits(out[r][j]) != math.Float32bits(want[j]) {
				tb.Fatalf("n=%d len=%d %v: rank %d buf[%d] = %v; want %v (NaiveSum, bitwise)", n, len(in[0]), w, r, j, out[r][j], want[j])
			}
		}
		var sum, abs float64
		for r := range n {
			sum += float64(in[r][j])
			abs += math.Abs(float64(in[r][j]))
		}
		tol := float64(n) * ((u+0x1p-24)*abs + eta) * 1.001
		if d := math.Abs(float64(want[j]) - sum); d > tol {
			tb.Fatalf("n=%d len=%d %v: buf[%d] = %v; want %v within %g (off by %g)", n, len(in[0]), w, j, want[j], sum, tol, d)
		}
	}
}
