package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
	"github.com/craftml/craft/coordinator/storetest"
)

// testConfig is DefaultConfig with a short lock timeout and no fsync.
func testConfig(keep int) boltstore.Config {
	cfg := boltstore.DefaultConfig()
	cfg.Keep = keep
	cfg.LockTimeout = 100 * time.Millisecond
	cfg.NoSync = true
	return cfg
}

func open(t testing.TB, path string, cfg boltstore.Config) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, cfg)
	if err != nil {
		t.Fatalf("Open(%s) = %v; want nil", path, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB, keep int) coordinator.Store {
		return open(t, filepath.Join(t.TempDir(), "craft.db"), testConfig(keep))
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*boltstore.Config)
		wantErr string
	}{
		{"default", func(*boltstore.Config) {}, ""},
		{"keep all", func(c *boltstore.Config) { c.Keep = 0 }, ""},
		{"negative keep", func(c *boltstore.Config) { c.Keep = -1 }, "Keep"},
		{"no lock timeout", func(c *boltstore.Config) { c.LockTimeout = 0 }, "LockTimeout"},
		{"no file mode", func(c *boltstore.Config) { c.FileMode = 0 }, "FileMode"},
		{"file mode with type bits", func(c *boltstore.Config) { c.FileMode = os.ModeDir | 0o600 }, "FileMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := boltstore.DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" && err != nil {
				t.Errorf("Validate() = %v; want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestReopenKeepsCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "craft.db")
	s := open(t, path, testConfig(2))
	ctx := context.Background()
	for step := uint64(1); step <= 3; step++ {
		if err := s.Save(ctx, storetest.Make(step, 1000)); err != nil {
			t.Fatalf("Save(%d) = %v; want nil", step, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	s = open(t, path, testConfig(2))
	defer s.Close()
	got, err := s.Latest(ctx)
	if err != nil {
		t.Fatalf("Latest() after reopening = %v; want nil", err)
	}
	if d := storetest.Equal(got, storetest.Make(3, 1000)); d != "" {
		t.Errorf("Latest() after reopening: %s", d)
	}
	if _, err := s.Load(ctx, 1); !errors.Is(err, coordinator.ErrNoCheckpoint) {
		t.Errorf("Load(1) after reopening = %v; want ErrNoCheckpoint (pruned)", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "craft.db")
	s := open(t, path, testConfig(0))
	start := time.Now()
	_, err := boltstore.Open(path, testConfig(0))
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open(%s) = %v; want ErrLocked", path, err)
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open error %q does not say the file is in use", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %s; want about the 100ms lock timeout", d)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	s = open(t, path, testConfig(0)) // the lock is released by Close
	s.Close()
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "craft.db")
	s := open(t, path, testConfig(0))
	ctx := context.Background()
	if err := s.Save(ctx, storetest.Make(5, 100)); err != nil {
		t.Fatalf("Save(5) = %v", err)
	}
	s.Close()

	cfg := testConfig(0)
	cfg.ReadOnly = true
	r1 := open(t, path, cfg)
	defer r1.Close()
	r2 := open(t, path, cfg) // readers share the lock
	defer r2.Close()
	got, err := r2.Latest(ctx)
	if err != nil {
		t.Fatalf("read-only Latest() = %v; want nil", err)
	}
	if d := storetest.Equal(got, storetest.Make(5, 100)); d != "" {
		t.Errorf("read-only Latest(): %s", d)
	}
	if err := r1.Save(ctx, storetest.Make(6, 100)); !errors.Is(err, boltstore.ErrReadOnly) {
		t.Errorf("read-only Save() = %v; want ErrReadOnly", err)
	}
	if _, err := boltstore.Open(path, testConfig(0)); !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("Open for writing while readers hold the file = %v; want ErrLocked", err)
	}
}

// TestCorruptBlob flips one byte of a stored blob: Load must name the step
// and the blob, the other checkpoints stay readable.
func TestCorruptBlob(t *testing.T) {
	for _, blob := range []string{"params", "optim", "trainer", "tokenizer"} {
		t.Run(blob, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "craft.db")
			s := open(t, path, testConfig(0))
			ctx := context.Background()
			for _, step := range []uint64{10, 20} {
				if err := s.Save(ctx, storetest.Make(step, 20000)); err != nil {
					t.Fatalf("Save(%d) = %v", step, err)
				}
			}
			s.Close()

			var data []byte
			for _, b := range storetest.Make(20, 20000).Blobs() {
				if b.Name == blob {
					data = b.Data
				}
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(file, data)
			if i < 0 {
				t.Fatalf("blob %s of step 20 not found in the file", blob)
			}
			file[i+len(data)/2] ^= 0x55
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}

			s = open(t, path, testConfig(0))
			defer s.Close()
			_, err = s.Load(ctx, 20)
			if !errors.Is(err, coordinator.ErrCorrupt) {
				t.Fatalf("Load(20) of a corrupt %s = %v; want ErrCorrupt", blob, err)
			}
			for _, want := range []string{"step 20", "blob " + blob, "sha256"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load(20) error %q does not contain %q", err, want)
				}
			}
			if _, err := s.Latest(ctx); !errors.Is(err, coordinator.ErrCorrupt) {
				t.Errorf("Latest() = %v; want ErrCorrupt", err)
			}
			got, err := s.Load(ctx, 10)
			if err != nil {
				t.Fatalf("Load(10) beside a corrupt step 20 = %v; want nil", err)
			}
			if d := storetest.Equal(got, storetest.Make(10, 20000)); d != "" {
				t.Errorf("Load(10): %s", d)
			}
		})
	}
}

// TestDamagedFile opens truncated and overwritten copies of a valid file:
// each either opens and reads (with errors wrapping ErrCorrupt where data is
// lost) or fails to open with a clear error; nothing panics.
func TestDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "craft.db")
	s := open(t, path, testConfig(0))
	ctx := context.Background()
	for _, step := range []uint64{1, 2, 3} {
		if err := s.Save(ctx, storetest.Make(step, 30000)); err != nil {
			t.Fatalf("Save(%d) = %v", step, err)
		}
	}
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"empty", func(b []byte) []byte { return nil }},
		{"one page", func(b []byte) []byte { return b[:4096] }},
		{"meta pages only", func(b []byte) []byte { return b[:8192] }},
		{"half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"last page gone", func(b []byte) []byte { return b[:len(b)-4096] }},
		{"zeroed tail", func(b []byte) []byte { clear(b[len(b)/2:]); return b }},
		{"garbage", func(b []byte) []byte {
			for i := range b {
				b[i] = byte(i * 7)
			}
			return b
		}},
		{"both meta pages zeroed", func(b []byte) []byte { clear(b[:8192]); return b }},
		{"text file", func([]byte) []byte { return []byte(strings.Repeat("not a bolt file\n", 1000)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(p, tt.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			exercise(t, p)
		})
	}
}

// exercise opens path and reads everything; it fails the test only on a
// panic or on a read error that is neither ErrCorrupt nor ErrNoCheckpoint.
func exercise(t testing.TB, path string) {
	t.Helper()
	cfg := testConfig(0)
	s, err := boltstore.Open(path, cfg)
	if err != nil {
		t.Logf("Open: %v", err)
		return
	}
	defer s.Close()
	ctx := context.Background()
	readErr := func(op string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, coordinator.ErrCorrupt) && !errors.Is(err, coordinator.ErrNoCheckpoint) {
			t.Errorf("%s = %v; want nil, ErrCorrupt or ErrNoCheckpoint", op, err)
		}
	}
	steps, err := s.Steps(ctx)
	readErr("Steps()", err)
	for _, step := range steps {
		_, err := s.Load(ctx, step)
		readErr("Load", err)
	}
	_, err = s.Latest(ctx)
	readErr("Latest()", err)
}
