package optim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestStateRoundTrip checks that an optimizer restored from a mid-run state
// continues bitwise as the original.
func TestStateRoundTrip(t *testing.T) {
	const n = 123
	rng := rand.New(rand.NewPCG(19, 20))
	groups := testGroups(n)
	tests := []struct {
		name string
		mk   func() Optimizer
	}{
		{"adamw", func() Optimizer { return NewAdamW(DefaultAdamWConfig(), n, groups) }},
		{"sgd", func() Optimizer { return NewSGD(SGDConfig{Momentum: 0.9, WeightDecay: 0.1}, n, groups) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.mk()
			p := randVec(rng, n, 1)
			for step := 1; step <= 3; step++ {
				a.Step(step, 1e-2, p, randVec(rng, n, 1))
			}
			data, err := a.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() error = %v", err)
			}
			b := tt.mk()
			if err := b.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary() error = %v", err)
			}
			again, _ := b.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Fatalf("MarshalBinary after UnmarshalBinary differs")
			}
			pb := slices.Clone(p)
			for step := 4; step <= 6; step++ {
				g := randVec(rng, n, 1)
				a.Step(step, 1e-2, p, g)
				b.Step(step, 1e-2, pb, g)
			}
			if !slices.Equal(p, pb) {
				t.Errorf("restored optimizer diverged from the original")
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	o := NewAdamW(DefaultAdamWConfig(), 4, nil)
	o.m[0], o.v[3] = 1, 2
	good, _ := o.MarshalBinary()
	sgdState, _ := NewSGD(DefaultSGDConfig(), 4, nil).MarshalBinary()
	bigger, _ := NewAdamW(DefaultAdamWConfig(), 5, nil).MarshalBinary()
	reseal := func(b []byte) []byte { // fix the checksum after an edit
		b = slices.Clone(b[:len(b)-4])
		return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	}
	edit := func(i int, v byte) []byte { b := slices.Clone(good); b[i] = v; return b }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorruptState},
		{"header only", good[:10], ErrCorruptState},
		{"truncated", good[:len(good)-1], ErrCorruptState},
		{"flipped bit", edit(12, good[12]^1), ErrCorruptState},
		{"version 2", edit(0, 2), ErrStateVersion},
		{"sgd state", sgdState, ErrStateMismatch},
		{"other size", bigger, ErrStateMismatch},
		{"short body, valid checksum", reseal(append(slices.Clone(good[:len(good)-8]), 0, 0, 0, 0)), ErrCorruptState},
		{"trailing bytes, valid checksum", reseal(append(slices.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0, 0, 0, 0)), ErrCorruptState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := NewAdamW(DefaultAdamWConfig(), 4, nil)
			err := fresh.UnmarshalBinary(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalBinary(%s) = %v; want %v", tt.name, err, tt.want)
			}
			if fresh.m[0] != 0 || fresh.v[3] != 0 {
				t.Errorf("UnmarshalBinary(%s) changed the moments on error", tt.name)
			}
		})
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	o := NewAdamW(DefaultAdamWConfig(), 3, nil)
	good, _ := o.MarshalBinary()
	sgd, _ := NewSGD(DefaultSGDConfig(), 3, nil).MarshalBinary()
	f.Add(good)
	f.Add(sgd)
	f.Add(good[:7])
	f.Add([]byte{})
	f.Add([]byte{1, 'A', 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opt := range []Optimizer{NewAdamW(DefaultAdamWConfig(), 3, nil), NewSGD(DefaultSGDConfig(), 3, nil)} {
			err := opt.UnmarshalBinary(data)
			if err != nil {
				if !errors.Is(err, ErrCorruptState) && !errors.Is(err, ErrStateVersion) && !errors.Is(err, ErrStateMismatch) {
					t.Fatalf("UnmarshalBinary error %v wraps no sentinel", err)
				}
				continue
			}
			// Accepted state must encode back to the same bytes.
			again, _ := opt.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Fatalf("MarshalBinary(UnmarshalBinary(%x)) = %x", data, again)
			}
		}
	})
}
