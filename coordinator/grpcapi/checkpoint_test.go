package grpcapi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/internal/craftpb"
)

func sample() *coordinator.Checkpoint {
	return &coordinator.Checkpoint{
		Step: 7, ConfigHash: "abc", Config: []byte("run: {}\n"), Tokenizer: []byte{1, 2, 3},
		Params: bytes.Repeat([]byte{9}, 2*ChunkBytes+5), Optim: []byte{4}, Trainer: []byte(`{"step":7}`),
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	var msgs []*craftpb.CheckpointChunk
	if err := sendCheckpoint(sample(), func(m *craftpb.CheckpointChunk) error { msgs = append(msgs, m); return nil }); err != nil {
		t.Fatal(err)
	}
	var a assembler
	for _, m := range msgs {
		if err := a.add(m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if got.Step != want.Step || got.ConfigHash != want.ConfigHash || !bytes.Equal(got.Params, want.Params) ||
		!bytes.Equal(got.Trainer, want.Trainer) || !bytes.Equal(got.Tokenizer, want.Tokenizer) {
		t.Errorf("round trip of a checkpoint changed it: step %d hash %q, %d param bytes", got.Step, got.ConfigHash, len(got.Params))
	}
}

func TestAssemblerRefusesBadStreams(t *testing.T) {
	hdr := func(step uint64, sizes map[string]int64) *craftpb.CheckpointChunk {
		return &craftpb.CheckpointChunk{Header: &craftpb.CheckpointHeader{Step: step, Sizes: sizes}}
	}
	blob := func(name string, n int) *craftpb.CheckpointChunk {
		return &craftpb.CheckpointChunk{Blob: name, Data: make([]byte, n)}
	}
	tests := []struct {
		name string
		msgs []*craftpb.CheckpointChunk
		want string // in the error
	}{
		{"empty", nil, "no header"},
		{"blob first", []*craftpb.CheckpointChunk{blob("params", 4)}, "before the header"},
		{"step 0", []*craftpb.CheckpointChunk{hdr(0, nil)}, "header.step is 0"},
		{"unknown blob", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"weights": 4})}, `unknown blob "weights"`},
		{"huge size", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"params": 1 << 40})}, `header.sizes["params"]`},
		{"negative size", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"params": -1})}, `header.sizes["params"]`},
		{"two headers", []*craftpb.CheckpointChunk{hdr(1, nil), hdr(2, nil)}, "second header"},
		{"undeclared blob", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"params": 4}), blob("optim", 1)}, `blob "optim" is not in header.sizes`},
		{"too long", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"params": 4}), blob("params", 5)}, "more than the 4 bytes"},
		{"too short", []*craftpb.CheckpointChunk{hdr(1, map[string]int64{"params": 4}), blob("params", 3)}, "3 bytes; header.sizes announced 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a assembler
			var err error
			for _, m := range tt.msgs {
				if err = a.add(m); err != nil {
					break
				}
			}
			if err == nil {
				_, err = a.checkpoint()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("assembling %s = %v; want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// FuzzAssembler feeds arbitrary chunk sequences (as a peer could send them)
// to the checkpoint assembler: no panic, and what it accepts is whole.
func FuzzAssembler(f *testing.F) {
	f.Add(uint64(3), "params", int64(4), "params", []byte{1, 2, 3, 4})
	f.Add(uint64(0), "x", int64(-1), "y", []byte{})
	f.Add(uint64(1), "optim", int64(1<<40), "optim", []byte{1})
	f.Fuzz(func(t *testing.T, step uint64, name string, size int64, blob string, data []byte) {
		var a assembler
		msgs := []*craftpb.CheckpointChunk{
			{Header: &craftpb.CheckpointHeader{Step: step, Sizes: map[string]int64{name: size}}},
			{Blob: blob, Data: data},
		}
		for _, m := range msgs {
			if err := a.add(m); err != nil {
				return
			}
		}
		c, err := a.checkpoint()
		if err != nil {
			return
		}
		if c.Step != step || int64(c.Size()) != size {
			t.Fatalf("accepted a checkpoint of step %d and %d bytes from header step %d size %d", c.Step, c.Size(), step, size)
		}
	})
}
