package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "craft")
	defer os.RemoveAll(dir)
	cfg := boltstore.DefaultConfig() // keeps the last 3
	s, err := boltstore.Open(filepath.Join(dir, "craft.db"), cfg)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	for step := uint64(100); step <= 500; step += 100 {
		c := &coordinator.Checkpoint{Step: step, ConfigHash: "h", Params: []byte{1, 2, 3, 4}}
		if err := s.Save(ctx, c); err != nil {
			panic(err)
		}
	}
	latest, _ := s.Latest(ctx)
	steps, _ := s.Steps(ctx)
	fmt.Println(latest.Step, steps)
	// Output: 500 [300 400 500]
}
