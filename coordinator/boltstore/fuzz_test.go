package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/craftml/craft/coordinator/storetest"
)

// FuzzOpen writes arbitrary bytes to a file and opens it as a checkpoint
// store: Open and every read must return errors, never panic. The seeds
// include valid files, so the fuzzer mutates real bolt pages;
// testdata/fuzz/FuzzOpen keeps inputs the fuzzer found while bisecting a
// stall; cc98ab9fea2aa059 crashes bbolt's own Open (a fault reading a
// freelist page past the end of the file), which checkFile now refuses.
//
// The inputs are tens of KiB, and Go minimizes every input that finds new
// coverage for up to -fuzzminimizetime (60 s by default) without reporting
// progress, so fuzz with a short minimization:
//
//	go test -run '^$' -fuzz FuzzOpen -fuzztime 90s -fuzzminimizetime 1s ./coordinator/boltstore
//
// (90 s here: about 42,000 inputs, 61 new coverage, no failure.)
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	for i, steps := range [][]uint64{nil, {1}, {1, 2, 3}} {
		path := filepath.Join(dir, "seed.db")
		os.Remove(path)
		s := open(f, path, testConfig(2))
		for _, step := range steps {
			if err := s.Save(context.Background(), storetest.Make(step, 3000*(i+1))); err != nil {
				f.Fatalf("Save(%d) = %v", step, err)
			}
		}
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("not a bolt file"))
	f.Add(make([]byte, 16384))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		exercise(quiet{t}, path)
	})
}

// TestMutatedFiles damages a valid checkpoint file in 300 seeded ways (bytes
// and words set to edge values, bit flips, truncation) and opens and reads
// each copy: errors are fine, panics, hangs and faults are not. It is the
// deterministic sibling of FuzzOpen.
func TestMutatedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.db")
	s := open(t, path, testConfig(2))
	for _, step := range []uint64{1, 2, 3} {
		if err := s.Save(context.Background(), storetest.Make(step, 9000)); err != nil {
			t.Fatalf("Save(%d) = %v", step, err)
		}
	}
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	edge := []uint64{0, 1, 2, 0x7f, 0xff, 0xffff, 0xffffffff, ^uint64(0), 1 << 31, 1 << 40, 4096, 7}
	for i := range 300 {
		b := bytes.Clone(good)
		for range 1 + rng.IntN(4) {
			off := rng.IntN(len(b) - 8)
			v := edge[rng.IntN(len(edge))]
			switch rng.IntN(6) {
			case 0:
				b[off] = byte(v)
			case 1:
				binary.LittleEndian.PutUint16(b[off:], uint16(v))
			case 2:
				binary.LittleEndian.PutUint32(b[off:], uint32(v))
			case 3:
				binary.LittleEndian.PutUint64(b[off:], v)
			case 4:
				b[off] ^= 1 << rng.IntN(8)
			case 5:
				b = b[:max(off, 9)]
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("mutated-%d.db", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		exercise(t, p)
		os.Remove(p)
	}
}

// quiet drops the log lines of exercise: FuzzOpen runs it thousands of times.
type quiet struct{ testing.TB }

func (quiet) Logf(string, ...any) {}
