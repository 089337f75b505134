package allreduce_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/allreducetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func memCluster(cfg allreduce.MemConfig) allreducetest.NewCluster {
	return func(t testing.TB, n int) []allreduce.Transport {
		ts := allreduce.NewMemNetwork(cfg).Endpoints(n)
		t.Cleanup(func() {
			for _, tr := range ts {
				tr.Close()
			}
		})
		return ts
	}
}

// TestConformance runs the suite on the in-memory transport.
func TestConformance(t *testing.T) {
	allreducetest.Run(t, memCluster(allreduce.DefaultMemConfig()))
}

// TestConformanceFakeNetwork runs it again on a network that delays every
// message randomly (order kept per link, shuffled across links), to shake
// out timing assumptions. The million-element cases ran on the plain network.
func TestConformanceFakeNetwork(t *testing.T) {
	cfg := allreduce.DefaultMemConfig()
	cfg.MaxDelay = 50 * time.Microsecond
	cfg.Seed = 42
	allreducetest.RunWith(t, memCluster(cfg), allreducetest.Options{SkipLarge: true})
}

// plainTransport hides the optional interfaces (Lender) of a Transport.
type plainTransport struct{ allreduce.Transport }

// TestConformanceCopyRecv runs the suite with Recv's copying path, the one
// transports without allreduce.Lender take.
func TestConformanceCopyRecv(t *testing.T) {
	mem := memCluster(allreduce.DefaultMemConfig())
	allreducetest.RunWith(t, func(t testing.TB, n int) []allreduce.Transport {
		ts := mem(t, n)
		for i := range ts {
			ts[i] = plainTransport{ts[i]}
		}
		return ts
	}, allreducetest.Options{SkipLarge: true})
}
