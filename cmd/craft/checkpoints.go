package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
	"github.com/craftml/craft/worker"
)

// openStore opens (creating its directory) the checkpoint file of a run.
func openStore(path string, keep int) (*boltstore.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint directory: %w", err)
	}
	cfg := boltstore.DefaultConfig()
	cfg.Keep = keep
	return boltstore.Open(path, cfg)
}

// openCheckpoint reads the latest checkpoint of a file without taking it
// from a run that may still be writing it.
func openCheckpoint(ctx context.Context, path string) (*coordinator.Checkpoint, conf.Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, conf.Config{}, fmt.Errorf("checkpoint file: %w", err)
	}
	cfg := boltstore.DefaultConfig()
	cfg.ReadOnly = true
	cfg.LockTimeout = 5 * time.Second
	st, err := boltstore.Open(path, cfg)
	if err != nil {
		return nil, conf.Config{}, err
	}
	defer st.Close()
	cp, err := st.Latest(ctx)
	if err != nil {
		return nil, conf.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	c, err := conf.Parse(path+"#config", cp.Config, nil)
	if err != nil {
		return nil, conf.Config{}, fmt.Errorf("configuration saved in %s at step %d: %w", path, cp.Step, err)
	}
	return cp, c, nil
}

func toSnapshot(c *coordinator.Checkpoint) *worker.Snapshot {
	return &worker.Snapshot{
		Step: c.Step, ConfigHash: c.ConfigHash, Config: c.Config, Tokenizer: c.Tokenizer,
		Params: c.Params, Optim: c.Optim, Trainer: c.Trainer,
	}
}
