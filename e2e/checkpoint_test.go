package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
)

// readCheckpoints opens the checkpoint file at path read-only and returns
// its latest checkpoint and the steps it holds. The file must not be held
// by a running craft process: bolt's lock makes a reader wait for the writer.
func readCheckpoints(t testing.TB, path string) (*coordinator.Checkpoint, []uint64) {
	t.Helper()
	cfg := boltstore.DefaultConfig()
	cfg.ReadOnly = true
	cfg.LockTimeout = 5 * time.Second
	st, err := boltstore.Open(path, cfg)
	if err != nil {
		t.Fatalf("open checkpoints: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	cp, err := st.Latest(ctx)
	if err != nil {
		t.Fatalf("latest checkpoint of %s: %v", path, err)
	}
	steps, err := st.Steps(ctx)
	if err != nil {
		t.Fatalf("steps of %s: %v", path, err)
	}
	return cp, steps
}
