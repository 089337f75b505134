// Package storetest is the conformance suite of coordinator.Store: every
// implementation (coordinator.MemStore, boltstore.Store) runs the same tests.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB, keep int) coordinator.Store {
//			return coordinator.NewMemStore(keep)
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/craftml/craft/coordinator"
)

// Opener returns a new, empty store that keeps the last keep checkpoints
// (0 = all). The suite closes the store; the opener may register further
// cleanup with t.Cleanup.
type Opener func(t testing.TB, keep int) coordinator.Store

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Empty", testEmpty},
		{"RoundTrip", testRoundTrip},
		{"LatestIsHighestStep", testLatestIsHighestStep},
		{"Keep", testKeep},
		{"ReplaceStep", testReplaceStep},
		{"Ownership", testOwnership},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
		{"NilCheckpoint", testNilCheckpoint},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// Make returns a checkpoint of step whose blobs are filled from a generator
// seeded by step, with paramBytes bytes of parameters.
func Make(step uint64, paramBytes int) *coordinator.Checkpoint {
	rng := rand.New(rand.NewPCG(step, 0x5eed))
	fill := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return &coordinator.Checkpoint{
		Step:       step,
		ConfigHash: fmt.Sprintf("sha256:%016x", rng.Uint64()),
		Config:     []byte(fmt.Sprintf("run:\n  name: test\ntrain:\n  steps: %d\n", step)),
		Tokenizer:  fill(37),
		Params:     fill(paramBytes),
		Optim:      fill(2 * paramBytes),
		Trainer:    fill(101),
	}
}

// Equal reports how a and b differ, or "" when they hold the same values
// (a nil and an empty blob are equal).
func Equal(a, b *coordinator.Checkpoint) string {
	if a.Step != b.Step {
		return fmt.Sprintf("Step = %d; want %d", a.Step, b.Step)
	}
	if a.ConfigHash != b.ConfigHash {
		return fmt.Sprintf("ConfigHash = %q; want %q", a.ConfigHash, b.ConfigHash)
	}
	ab, bb := a.Blobs(), b.Blobs()
	for i := range ab {
		if !bytes.Equal(ab[i].Data, bb[i].Data) {
			return fmt.Sprintf("%s: %d bytes differ from the %d saved", ab[i].Name, len(ab[i].Data), len(bb[i].Data))
		}
	}
	return ""
}

func mustSave(t testing.TB, s coordinator.Store, c *coordinator.Checkpoint) {
	t.Helper()
	if err := s.Save(context.Background(), c); err != nil {
		t.Fatalf("Save(step %d) = %v; want nil", c.Step, err)
	}
}

func mustSteps(t testing.TB, s coordinator.Store) []uint64 {
	t.Helper()
	steps, err := s.Steps(context.Background())
	if err != nil {
		t.Fatalf("Steps() = %v; want nil", err)
	}
	return steps
}

func openT(t *testing.T, open Opener, keep int) coordinator.Store {
	t.Helper()
	s := open(t, keep)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v; want nil", err)
		}
	})
	return s
}

func testEmpty(t *testing.T, open Opener) {
	s := openT(t, open, 3)
	ctx := context.Background()
	if _, err := s.Latest(ctx); !errors.Is(err, coordinator.ErrNoCheckpoint) {
		t.Errorf("Latest() on an empty store = %v; want ErrNoCheckpoint", err)
	}
	if _, err := s.Load(ctx, 7); !errors.Is(err, coordinator.ErrNoCheckpoint) {
		t.Errorf("Load(7) on an empty store = %v; want ErrNoCheckpoint", err)
	}
	if got := mustSteps(t, s); len(got) != 0 {
		t.Errorf("Steps() on an empty store = %v; want []", got)
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	tests := []struct {
		name string
		ckpt *coordinator.Checkpoint
	}{
		{"small", Make(10, 64)},
		{"step zero", Make(0, 16)},
		{"max step", Make(^uint64(0), 16)},
		{"large params", Make(20, 5<<20)},
		{"empty blobs", &coordinator.Checkpoint{Step: 30}},
		{"empty but not nil", &coordinator.Checkpoint{Step: 40, ConfigHash: "h", Config: []byte{}, Params: []byte{}}},
	}
	s := openT(t, open, 0)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustSave(t, s, tt.ckpt)
			got, err := s.Load(ctx, tt.ckpt.Step)
			if err != nil {
				t.Fatalf("Load(%d) = %v; want nil", tt.ckpt.Step, err)
			}
			if d := Equal(got, tt.ckpt); d != "" {
				t.Errorf("Load(%d): %s", tt.ckpt.Step, d)
			}
		})
	}
}

func testLatestIsHighestStep(t *testing.T, open Opener) {
	s := openT(t, open, 0)
	for _, step := range []uint64{5, 50, 20, 1} {
		mustSave(t, s, Make(step, 32))
	}
	got, err := s.Latest(context.Background())
	if err != nil {
		t.Fatalf("Latest() = %v; want nil", err)
	}
	if d := Equal(got, Make(50, 32)); d != "" {
		t.Errorf("Latest(): %s", d)
	}
	if got, want := mustSteps(t, s), []uint64{1, 5, 20, 50}; !slices.Equal(got, want) {
		t.Errorf("Steps() = %v; want %v", got, want)
	}
}

func testKeep(t *testing.T, open Opener) {
	tests := []struct {
		name  string
		keep  int
		saves []uint64
		want  []uint64
	}{
		{"keep 3 of 6", 3, []uint64{1, 2, 3, 4, 5, 6}, []uint64{4, 5, 6}},
		{"keep 1", 1, []uint64{10, 20, 30}, []uint64{30}},
		{"keep all", 0, []uint64{1, 2, 3, 4, 5}, []uint64{1, 2, 3, 4, 5}},
		{"under the limit", 5, []uint64{7, 8}, []uint64{7, 8}},
		{"older step saved late is pruned first", 2, []uint64{10, 20, 5}, []uint64{10, 20}},
		{"highest steps win", 2, []uint64{30, 10, 20}, []uint64{20, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openT(t, open, tt.keep)
			for _, step := range tt.saves {
				mustSave(t, s, Make(step, 16))
			}
			if got := mustSteps(t, s); !slices.Equal(got, tt.want) {
				t.Errorf("Steps() after saving %v with keep %d = %v; want %v", tt.saves, tt.keep, got, tt.want)
			}
			for _, step := range tt.saves {
				_, err := s.Load(context.Background(), step)
				kept := slices.Contains(tt.want, step)
				if kept && err != nil {
					t.Errorf("Load(%d) = %v; want nil", step, err)
				}
				if !kept && !errors.Is(err, coordinator.ErrNoCheckpoint) {
					t.Errorf("Load(%d) of a pruned step = %v; want ErrNoCheckpoint", step, err)
				}
			}
		})
	}
}

func testReplaceStep(t *testing.T, open Opener) {
	s := openT(t, open, 0)
	first := Make(9, 64)
	second := Make(9, 128)
	second.ConfigHash = "other"
	second.Tokenizer = nil
	mustSave(t, s, first)
	mustSave(t, s, second)
	got, err := s.Load(context.Background(), 9)
	if err != nil {
		t.Fatalf("Load(9) = %v; want nil", err)
	}
	if d := Equal(got, second); d != "" {
		t.Errorf("Load(9) after replacing it: %s", d)
	}
	if got, want := mustSteps(t, s), []uint64{9}; !slices.Equal(got, want) {
		t.Errorf("Steps() = %v; want %v", got, want)
	}
}

func testOwnership(t *testing.T, open Opener) {
	s := openT(t, open, 0)
	ctx := context.Background()
	c := Make(3, 64)
	want := c.Clone()
	mustSave(t, s, c)
	c.Params[0] ^= 0xff
	c.ConfigHash = "changed"
	got, err := s.Load(ctx, 3)
	if err != nil {
		t.Fatalf("Load(3) = %v; want nil", err)
	}
	if d := Equal(got, want); d != "" {
		t.Errorf("Load(3) after the caller changed its checkpoint: %s", d)
	}
	got.Params[0] ^= 0xff
	got.Optim = nil
	again, err := s.Latest(ctx)
	if err != nil {
		t.Fatalf("Latest() = %v; want nil", err)
	}
	if d := Equal(again, want); d != "" {
		t.Errorf("Latest() after the caller changed a loaded checkpoint: %s", d)
	}
}

func testCanceledContext(t *testing.T, open Opener) {
	s := openT(t, open, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Save(ctx, Make(1, 8)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save(canceled ctx) = %v; want context.Canceled", err)
	}
	if got := mustSteps(t, s); len(got) != 0 {
		t.Errorf("Steps() after a canceled Save = %v; want []", got)
	}
	if _, err := s.Latest(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Latest(canceled ctx) = %v; want context.Canceled", err)
	}
}

func testClose(t *testing.T, open Opener) {
	s := open(t, 0)
	ctx := context.Background()
	mustSave(t, s, Make(1, 8))
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v; want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
	if err := s.Save(ctx, Make(2, 8)); !errors.Is(err, coordinator.ErrClosed) {
		t.Errorf("Save after Close = %v; want ErrClosed", err)
	}
	if _, err := s.Latest(ctx); !errors.Is(err, coordinator.ErrClosed) {
		t.Errorf("Latest after Close = %v; want ErrClosed", err)
	}
	if _, err := s.Load(ctx, 1); !errors.Is(err, coordinator.ErrClosed) {
		t.Errorf("Load after Close = %v; want ErrClosed", err)
	}
	if _, err := s.Steps(ctx); !errors.Is(err, coordinator.ErrClosed) {
		t.Errorf("Steps after Close = %v; want ErrClosed", err)
	}
}

func testNilCheckpoint(t *testing.T, open Opener) {
	s := openT(t, open, 0)
	if err := s.Save(context.Background(), nil); err == nil {
		t.Errorf("Save(nil) = nil; want an error")
	}
}

func testConcurrent(t *testing.T, open Opener) {
	const writers, perWriter = 4, 5
	s := openT(t, open, 3)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				step := uint64(w*perWriter + i + 1)
				if err := s.Save(ctx, Make(step, 256)); err != nil {
					errs <- fmt.Errorf("Save(%d) = %w", step, err)
				}
			}
		})
		wg.Go(func() {
			for range perWriter {
				c, err := s.Latest(ctx)
				if errors.Is(err, coordinator.ErrNoCheckpoint) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("Latest() = %w", err)
					continue
				}
				if d := Equal(c, Make(c.Step, 256)); d != "" {
					errs <- fmt.Errorf("Latest() returned a torn checkpoint: %s", d)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := mustSteps(t, s), []uint64{18, 19, 20}; !slices.Equal(got, want) {
		t.Errorf("Steps() after concurrent saves of 1..20 with keep 3 = %v; want %v", got, want)
	}
}
