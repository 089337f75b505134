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

// testConfig is DefaultConfig with a quiet logger.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// newCluster starts n transports on 127.0.0.1 sockets, closed when tb ends.
func newCluster(tb testing.TB, n int) []allreduce.Transport {
	tb.Helper()
	ts := make([]allreduce.Transport, n)
	for i := range ts {
		tr, err := New(testConfig())
		if err != nil {
			tb.Fatalf("New() = %v; want nil", err)
		}
		ts[i] = tr
		tb.Cleanup(func() { tr.Close() })
	}
	return ts
}

// TestConformance runs the allreduce conformance suite over real gRPC on
// loopback sockets.
func TestConformance(t *testing.T) {
	allreducetest.Run(t, newCluster)
}
