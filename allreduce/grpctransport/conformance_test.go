package grpctransport

import (
	"io"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/allreducetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSecret is the key of the test clusters.
var testSecret = []byte("0123456789abcdef-test-secret")

// testConfig is DefaultConfig with the test key and a quiet logger.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Secret = testSecret
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newCluster starts n transports on 127.0.0.1 sockets, closed when tb ends.
// Their peers are all on this host: they talk over the local Unix sockets
// where this OS has them.
func newCluster(tb testing.TB, n int) []allreduce.Transport {
	return newClusterWith(tb, n, testConfig())
}

// newTCPCluster is newCluster with LocalSockets off: every connection is TCP.
func newTCPCluster(tb testing.TB, n int) []allreduce.Transport {
	cfg := testConfig()
	cfg.LocalSockets = false
	return newClusterWith(tb, n, cfg)
}

func newClusterWith(tb testing.TB, n int, cfg Config) []allreduce.Transport {
	tb.Helper()
	ts := make([]allreduce.Transport, n)
	for i := range ts {
		tr, err := New(cfg)
		if err != nil {
			tb.Fatalf("New() = %v; want nil", err)
		}
		ts[i] = tr
		tb.Cleanup(func() { tr.Close() })
	}
	return ts
}

// TestConformance runs the allreduce conformance suite over real gRPC, on
// the local Unix sockets and on TCP loopback.
func TestConformance(t *testing.T) {
	t.Run("local", func(t *testing.T) { allreducetest.Run(t, newCluster) })
	t.Run("tcp", func(t *testing.T) { allreducetest.Run(t, newTCPCluster) })
}
