package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
	"github.com/craftml/craft/coordinator/storetest"
)

// BenchmarkSave writes checkpoints of a model with n float32 parameters
// (params, then twice that of AdamW moments) with fsync, keeping the last 3:
// bytes/s is the checkpoint's size over the time of one committed Save.
func BenchmarkSave(b *testing.B) {
	for _, params := range []int{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("params=%dMi", params>>20), func(b *testing.B) {
			cfg := boltstore.DefaultConfig()
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "craft.db"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c := storetest.Make(1, 4*params)
			b.SetBytes(int64(c.Size()))
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				c.Step = uint64(i + 1)
				if err := s.Save(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLatest reads and verifies (SHA-256) the latest checkpoint.
func BenchmarkLatest(b *testing.B) {
	for _, params := range []int{1 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("params=%dMi", params>>20), func(b *testing.B) {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "craft.db"), boltstore.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c := storetest.Make(1, 4*params)
			ctx := context.Background()
			if err := s.Save(ctx, c); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(c.Size()))
			var got *coordinator.Checkpoint
			for b.Loop() {
				if got, err = s.Latest(ctx); err != nil {
					b.Fatal(err)
				}
			}
			_ = got
		})
	}
}
