package tcptransport

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

// testSecret is the join token of the test clusters.
var testSecret = []byte("0123456789abcdef-test-secret")

// testConfig is DefaultConfig with the test secret and a quiet logger.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Secret = testSecret
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newTransport starts a transport with cfg, closed when tb ends.
func newTransport(tb testing.TB, cfg Config) *Transport {
	tb.Helper()
	tr, err := New(cfg)
	if err != nil {
		tb.Fatalf("New() = %v; want nil", err)
	}
	tb.Cleanup(func() { tr.Close() })
	return tr
}

// newCluster starts n transports on 127.0.0.1 sockets, closed when tb ends.
// Their peers are all on this host: they talk over the local Unix sockets
// where this OS has them.
func newCluster(tb testing.TB, n int) []allreduce.Transport {
	tb.Helper()
	ts := make([]allreduce.Transport, n)
	for i := range ts {
		ts[i] = newTransport(tb, testConfig())
	}
	return ts
}

// newTCPCluster is newCluster with LocalSockets off: every connection is TCP.
func newTCPCluster(tb testing.TB, n int) []allreduce.Transport {
	tb.Helper()
	cfg := testConfig()
	cfg.LocalSockets = false
	ts := make([]allreduce.Transport, n)
	for i := range ts {
		ts[i] = newTransport(tb, cfg)
	}
	return ts
}

// TestConformance runs the allreduce conformance suite over the same-host
// Unix sockets and over TCP on loopback.
func TestConformance(t *testing.T) {
	t.Run("local", func(t *testing.T) { allreducetest.Run(t, newCluster) })
	t.Run("tcp", func(t *testing.T) { allreducetest.Run(t, newTCPCluster) })
}
