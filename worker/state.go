package worker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrBadState reports a trainer state or snapshot that cannot be restored.
var ErrBadState = errors.New("worker: bad trainer state")

// State is what a checkpoint must hold of the trainer besides parameters and
// optimizer moments. The sampler's cursor is the step: the global sample
// stream is a pure function of (seed, step), so a resumed run continues with
// the very next sample. Dropout masks derive from (seed, step, position), so
// there is no RNG state to save.
type State struct {
	Step     int          `json:"step"`      // optimizer steps completed
	LastLoss float64      `json:"last_loss"` // training loss of the last step
	History  []EvalResult `json:"history"`   // every evaluation so far
	BestLoss float64      `json:"best_loss"` // lowest validation loss seen; 0 before any
	BestStep int          `json:"best_step"` // the step it was seen at
}

func (s *State) record(r EvalResult) {
	s.History = append(s.History, r)
	if s.BestStep == 0 || r.Loss < s.BestLoss {
		s.BestLoss, s.BestStep = r.Loss, r.Step
	}
}

func (s State) clone() State {
	s.History = slices.Clone(s.History)
	return s
}

// MarshalBinary encodes the state as JSON.
func (s State) MarshalBinary() ([]byte, error) { return json.Marshal(s) }

// UnmarshalBinary decodes a state written by MarshalBinary and checks it.
func (s *State) UnmarshalBinary(b []byte) error {
	var v State
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if v.Step < 0 || v.BestStep < 0 || v.BestStep > v.Step {
		return fmt.Errorf("%w: step %d, best step %d", ErrBadState, v.Step, v.BestStep)
	}
	for i, r := range v.History {
		if r.Step < 0 || r.Step > v.Step {
			return fmt.Errorf("%w: evaluation %d at step %d after the state's step %d", ErrBadState, i, r.Step, v.Step)
		}
	}
	*s = v
	return nil
}

// Snapshot is a replica's complete state: what a checkpoint stores and what
// a joining worker receives.
type Snapshot struct {
	Step       uint64 // optimizer steps completed
	ConfigHash string // hash of the resolved configuration
	Config     []byte // the resolved configuration, YAML
	Tokenizer  []byte // the tokenizer, as dataset.Tokenizer.MarshalBinary wrote it; nil for tables
	Params     []byte // parameters, little-endian float32 in the arena's layout
	Optim      []byte // optimizer state
	Trainer    []byte // State, encoded
}

// Snapshot copies the replica's state out. Every rank holds the same one
// after a step.
func (t *Trainer) Snapshot() (*Snapshot, error) {
	opt, err := t.opt.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("snapshot optimizer: %w", err)
	}
	st, err := t.state.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("snapshot trainer state: %w", err)
	}
	s := &Snapshot{
		Step:       uint64(t.state.Step),
		ConfigHash: t.meta.ConfigHash,
		Config:     t.meta.Config,
		Params:     EncodeFloats(t.model.Arena().Params),
		Optim:      opt,
		Trainer:    st,
	}
	if tok := t.src.Tokenizer(); tok != nil {
		if s.Tokenizer, err = tok.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("snapshot tokenizer: %w", err)
		}
	}
	return s, nil
}

// Restore puts the replica in the state s describes. Nothing changes when
// it fails.
func (t *Trainer) Restore(s *Snapshot) error {
	a := t.model.Arena()
	if len(s.Params) != 4*len(a.Params) {
		return fmt.Errorf("%w: %d bytes of parameters, the model has %d", ErrBadState, len(s.Params), 4*len(a.Params))
	}
	var st State
	if err := st.UnmarshalBinary(s.Trainer); err != nil {
		return err
	}
	if uint64(st.Step) != s.Step {
		return fmt.Errorf("%w: snapshot of step %d holds trainer state of step %d", ErrBadState, s.Step, st.Step)
	}
	if err := t.opt.UnmarshalBinary(s.Optim); err != nil {
		return fmt.Errorf("restore optimizer: %w", err)
	}
	DecodeFloats(a.Params, s.Params)
	t.state = st
	return nil
}

// EncodeFloats returns xs as little-endian bytes.
func EncodeFloats(xs []float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// DecodeFloats fills dst from little-endian bytes; len(b) must be 4*len(dst).
func DecodeFloats(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}
