package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// ErrSafetensors reports a safetensors file that is malformed or does not
// match the arena (a missing tensor, another shape or dtype).
var ErrSafetensors = errors.New("model: bad safetensors file")

// maxSafetensorsHeader bounds the JSON header a reader accepts (the format's
// own reference implementation uses 100 MB).
const maxSafetensorsHeader = 100 << 20

type safetensorsEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes the arena's parameters (or, if grads, its
// gradients) as a safetensors file: every tensor under its nanoGPT
// state_dict name, dtype F32, little-endian, in arena order. The GPT's
// output head is tied to transformer.wte.weight and is not written;
// PyTorch's load_state_dict(sd, strict=False) or sd["lm_head.weight"] =
// sd["transformer.wte.weight"] restores nanoGPT's tied pair.
func (a *Arena) WriteSafetensors(w io.Writer, grads bool) error {
	src := a.Params
	kind := "params"
	if grads {
		src = a.Grads
		kind = "grads"
	}
	// Build the header by hand so the key order is the arena order.
	hdr := []byte(`{"__metadata__":{"format":"pt","craft":"` + kind + `"}`)
	for _, t := range a.Tensors {
		hdr = append(hdr, ',')
		hdr = strconv.AppendQuote(hdr, t.Name)
		hdr = append(hdr, `:{"dtype":"F32","shape":[`...)
		for i, d := range t.Shape {
			if i > 0 {
				hdr = append(hdr, ',')
			}
			hdr = strconv.AppendInt(hdr, int64(d), 10)
		}
		hdr = append(hdr, `],"data_offsets":[`...)
		hdr = strconv.AppendInt(hdr, int64(4*t.Offset), 10)
		hdr = append(hdr, ',')
		hdr = strconv.AppendInt(hdr, int64(4*(t.Offset+t.Size())), 10)
		hdr = append(hdr, "]}"...)
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 { // the format pads the header with spaces to 8 bytes
		hdr = append(hdr, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("write safetensors header size: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write safetensors header: %w", err)
	}
	buf := make([]byte, 0, 64<<10)
	for i := 0; i < len(src); {
		buf = buf[:0]
		for ; i < len(src) && len(buf) < cap(buf); i++ {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(src[i]))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write safetensors data: %w", err)
		}
	}
	return nil
}

// ReadSafetensors reads a safetensors file into the arena's parameters.
// Every tensor of the arena must be present with dtype F32 and the same
// shape; lm_head.weight, if present (a PyTorch nanoGPT state_dict), must
// equal transformer.wte.weight's shape and is ignored since the head is tied.
// Other extra tensors are an error. On error the parameters may be partly
// overwritten.
func (a *Arena) ReadSafetensors(r io.Reader) error {
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return fmt.Errorf("read safetensors header size: %w", err)
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > maxSafetensorsHeader {
		return fmt.Errorf("%w: header of %d bytes", ErrSafetensors, size)
	}
	// Read what is there rather than trusting size with an allocation.
	hdr, err := io.ReadAll(io.LimitReader(r, int64(size)))
	if err != nil {
		return fmt.Errorf("read safetensors header: %w", err)
	}
	if uint64(len(hdr)) != size {
		return fmt.Errorf("read safetensors header: %w", io.ErrUnexpectedEOF)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return fmt.Errorf("%w: header: %v", ErrSafetensors, err)
	}
	delete(raw, "__metadata__")
	type span struct {
		name   string
		lo, hi int64
		dst    []float32 // nil: skip
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		var e safetensorsEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return fmt.Errorf("%w: tensor %q: %v", ErrSafetensors, name, err)
		}
		if e.DType != "F32" {
			return fmt.Errorf("%w: tensor %q has dtype %s, want F32", ErrSafetensors, name, e.DType)
		}
		want, ok := a.Tensor(name)
		var dst []float32
		switch {
		case ok:
			dst, _ = a.Lookup(name)
		case name == "lm_head.weight":
			if want, ok = a.Tensor("transformer.wte.weight"); !ok {
				return fmt.Errorf("%w: unexpected tensor %q", ErrSafetensors, name)
			}
		default:
			return fmt.Errorf("%w: unexpected tensor %q", ErrSafetensors, name)
		}
		if !slices.Equal(e.Shape, want.Shape) {
			return fmt.Errorf("%w: tensor %q has shape %v, want %v", ErrSafetensors, name, e.Shape, want.Shape)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi-lo != 4*int64(want.Size()) {
			return fmt.Errorf("%w: tensor %q has data offsets [%d, %d] for %d floats", ErrSafetensors, name, lo, hi, want.Size())
		}
		spans = append(spans, span{name, lo, hi, dst})
	}
	for _, t := range a.Tensors {
		if _, ok := raw[t.Name]; !ok {
			return fmt.Errorf("%w: missing tensor %q", ErrSafetensors, t.Name)
		}
	}
	// Read the data section in offset order, without seeking.
	slices.SortFunc(spans, func(x, y span) int { return int(x.lo - y.lo) })
	var pos int64
	buf := make([]byte, 64<<10)
	for _, s := range spans {
		if s.lo < pos {
			return fmt.Errorf("%w: tensor %q overlaps another", ErrSafetensors, s.name)
		}
		if _, err := io.CopyN(io.Discard, r, s.lo-pos); err != nil {
			return fmt.Errorf("read safetensors data: %w", err)
		}
		pos = s.lo
		for i := 0; pos < s.hi; {
			chunk := min(int64(len(buf)), s.hi-pos)
			if _, err := io.ReadFull(r, buf[:chunk]); err != nil {
				return fmt.Errorf("read safetensors tensor %q: %w", s.name, err)
			}
			pos += chunk
			if s.dst == nil {
				continue
			}
			for j := int64(0); j < chunk; j, i = j+4, i+1 {
				s.dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[j:]))
			}
		}
	}
	return nil
}
