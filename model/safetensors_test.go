package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	for _, bias := range []bool{true, false} {
		g1, _ := NewGPT(tinyGPT(bias, 0))
		cfg := tinyGPT(bias, 0)
		cfg.Seed = 99
		g2, _ := NewGPT(cfg)
		a1, a2 := g1.Arena(), g2.Arena()
		for i := range a1.Grads {
			a1.Grads[i] = float32(i) * 0.5
		}
		var buf bytes.Buffer
		if err := a1.WriteSafetensors(&buf, false); err != nil {
			t.Fatal(err)
		}
		if err := a2.ReadSafetensors(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("ReadSafetensors(WriteSafetensors()) = %v; want nil", err)
		}
		if !slices.Equal(a1.Params, a2.Params) {
			t.Errorf("bias %v: params after a round trip differ", bias)
		}
		buf.Reset()
		if err := a1.WriteSafetensors(&buf, true); err != nil {
			t.Fatal(err)
		}
		if err := a2.ReadSafetensors(&buf); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a1.Grads, a2.Params) {
			t.Errorf("bias %v: grads written and read back differ", bias)
		}
	}
}

func TestSafetensorsHeader(t *testing.T) {
	g, _ := NewGPT(tinyGPT(false, 0))
	var buf bytes.Buffer
	if err := g.Arena().WriteSafetensors(&buf, false); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header size = %d; want a multiple of 8", n)
	}
	hdr := string(b[8 : 8+n])
	for _, want := range []string{
		`"transformer.wte.weight":{"dtype":"F32","shape":[7,8],"data_offsets":[0,224]}`,
		`"transformer.h.1.attn.c_attn.weight":{"dtype":"F32","shape":[24,8]`,
		`"transformer.ln_f.weight"`,
	} {
		if !bytes.Contains([]byte(hdr), []byte(want)) {
			t.Errorf("header %s lacks %s", hdr, want)
		}
	}
	if got, want := len(b), 8+int(n)+4*g.Arena().NumParams(); got != want {
		t.Errorf("file size = %d; want %d", got, want)
	}
}

func TestSafetensorsErrors(t *testing.T) {
	g, _ := NewGPT(tinyGPT(false, 0))
	gb, _ := NewGPT(tinyGPT(true, 0))
	var good bytes.Buffer
	g.Arena().WriteSafetensors(&good, false)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", good.Bytes()[:20]},
		{"truncated data", good.Bytes()[:good.Len()-4]},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40)},
		{"not json", append(binary.LittleEndian.AppendUint64(nil, 8), "not json"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := g.Arena().ReadSafetensors(bytes.NewReader(tc.data)); err == nil {
				t.Errorf("ReadSafetensors(%s) = nil; want an error", tc.name)
			}
		})
	}
	// A model without bias tensors does not fit one with them.
	if err := gb.Arena().ReadSafetensors(bytes.NewReader(good.Bytes())); !errors.Is(err, ErrSafetensors) {
		t.Errorf("ReadSafetensors(no-bias file into bias model) = %v; want ErrSafetensors", err)
	}
	var withBias bytes.Buffer
	gb.Arena().WriteSafetensors(&withBias, false)
	if err := g.Arena().ReadSafetensors(bytes.NewReader(withBias.Bytes())); !errors.Is(err, ErrSafetensors) {
		t.Errorf("ReadSafetensors(bias file into no-bias model) = %v; want ErrSafetensors", err)
	}
}

func TestSafetensorsAcceptsTiedHead(t *testing.T) {
	// A PyTorch nanoGPT state_dict holds lm_head.weight too.
	g, _ := NewGPT(tinyGPT(false, 0))
	a := g.Arena()
	wte, _ := a.Lookup("transformer.wte.weight")
	specs := slices.Clone(a.Tensors)
	specs = append(specs, Tensor{Name: "lm_head.weight", Shape: []int{7, 8}})
	ext := newArena(specs)
	copy(ext.Params, a.Params)
	copy(ext.Params[len(a.Params):], wte)
	var buf bytes.Buffer
	ext.WriteSafetensors(&buf, false)
	g2, _ := NewGPT(GPTConfig{VocabSize: 7, BlockSize: 6, NLayer: 2, NHead: 2, NEmbd: 8, MaxBatch: 3, Seed: 77})
	if err := g2.Arena().ReadSafetensors(&buf); err != nil {
		t.Fatalf("ReadSafetensors(with lm_head.weight) = %v; want nil", err)
	}
	if !slices.Equal(g2.Arena().Params, a.Params) {
		t.Errorf("params read from a file with lm_head.weight differ")
	}
}

func FuzzReadSafetensors(f *testing.F) {
	g, _ := NewGPT(GPTConfig{VocabSize: 3, BlockSize: 2, NLayer: 1, NHead: 1, NEmbd: 2, MaxBatch: 1, Seed: 1})
	var buf bytes.Buffer
	g.Arena().WriteSafetensors(&buf, false)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add(append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		g.Arena().ReadSafetensors(bytes.NewReader(data)) // must not panic
	})
}
