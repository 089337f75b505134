package coordinator

import (
	"bytes"
	"context"
	"errors"
)

// Sentinel errors of the checkpoint stores. Stores wrap them with the
// operation and step, so test them with errors.Is.
var (
	// ErrNoCheckpoint is returned by Latest on an empty store and by Load for
	// a step the store does not hold.
	ErrNoCheckpoint = errors.New("coordinator: no checkpoint")
	// ErrCorrupt is returned when a stored checkpoint fails its checksums or
	// cannot be decoded. The wrapping error names the step and the blob.
	ErrCorrupt = errors.New("coordinator: corrupt checkpoint")
	// ErrClosed is returned by every method of a store after Close.
	ErrClosed = errors.New("coordinator: store closed")
)

// Checkpoint is the whole state of a run at the end of step Step: enough to
// resume it bitwise. The byte slices are opaque to the store.
type Checkpoint struct {
	Step       uint64 // the number of completed optimizer steps
	ConfigHash string // conf.Config.Hash of Config
	Config     []byte // resolved YAML
	Tokenizer  []byte // dataset.Tokenizer.MarshalBinary; nil for classification
	Params     []byte // raw little-endian float32
	Optim      []byte // optimizer MarshalBinary
	Trainer    []byte // trainer state: sampler cursor, RNG, eval history (opaque here)
}

// Clone returns a deep copy of c. Stores hand out and keep clones so that
// neither side aliases the other's buffers.
func (c *Checkpoint) Clone() *Checkpoint {
	if c == nil {
		return nil
	}
	return &Checkpoint{
		Step:       c.Step,
		ConfigHash: c.ConfigHash,
		Config:     bytes.Clone(c.Config),
		Tokenizer:  bytes.Clone(c.Tokenizer),
		Params:     bytes.Clone(c.Params),
		Optim:      bytes.Clone(c.Optim),
		Trainer:    bytes.Clone(c.Trainer),
	}
}

// Size returns the total number of bytes of c's blobs.
func (c *Checkpoint) Size() int {
	return len(c.Config) + len(c.Tokenizer) + len(c.Params) + len(c.Optim) + len(c.Trainer)
}

// Blobs returns c's blobs by name, in a fixed order: config, tokenizer,
// params, optim, trainer. The slices alias c.
func (c *Checkpoint) Blobs() []Blob {
	return []Blob{
		{"config", c.Config},
		{"tokenizer", c.Tokenizer},
		{"params", c.Params},
		{"optim", c.Optim},
		{"trainer", c.Trainer},
	}
}

// SetBlob stores data as c's blob called name and reports whether name is
// one of the names Blobs returns. c keeps data.
func (c *Checkpoint) SetBlob(name string, data []byte) bool {
	switch name {
	case "config":
		c.Config = data
	case "tokenizer":
		c.Tokenizer = data
	case "params":
		c.Params = data
	case "optim":
		c.Optim = data
	case "trainer":
		c.Trainer = data
	default:
		return false
	}
	return true
}

// Blob is one named byte blob of a Checkpoint.
type Blob struct {
	Name string
	Data []byte
}

// Store persists checkpoints. Implementations are safe for concurrent use.
//
// Save writes c in one transaction: after a crash either all of c is
// readable or none of it, and the previously committed checkpoints are
// untouched. It then keeps only the Keep checkpoints with the highest steps
// (Keep is the store's configuration; 0 keeps all), in the same transaction.
// Saving a step that already exists replaces it. Save does not keep c or any
// of its slices after it returns.
//
// Latest returns the checkpoint with the highest step, or an error wrapping
// ErrNoCheckpoint when the store is empty. Load returns the checkpoint of a
// step, or an error wrapping ErrNoCheckpoint. Both return a checkpoint the
// caller owns, and verify its checksums where the store keeps them (an error
// wrapping ErrCorrupt names the step and blob).
//
// Steps returns the stored steps in increasing order.
//
// After Close every method returns an error wrapping ErrClosed; Close is
// idempotent.
type Store interface {
	Save(ctx context.Context, c *Checkpoint) error
	Latest(ctx context.Context) (*Checkpoint, error)
	Load(ctx context.Context, step uint64) (*Checkpoint, error)
	Steps(ctx context.Context) ([]uint64, error)
	Close() error
}
