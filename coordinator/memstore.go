package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// MemStore is the in-memory Store: the twin of boltstore for tests and for
// runs that need no checkpoint file. It is safe for concurrent use.
type MemStore struct {
	keep int

	mu     sync.Mutex
	ckpts  map[uint64]*Checkpoint
	closed bool
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore that keeps the keep checkpoints with
// the highest steps; keep <= 0 keeps them all.
func NewMemStore(keep int) *MemStore {
	if keep < 0 {
		keep = 0
	}
	return &MemStore{keep: keep, ckpts: make(map[uint64]*Checkpoint)}
}

// Save stores a copy of c and prunes to the last Keep checkpoints.
func (m *MemStore) Save(ctx context.Context, c *Checkpoint) error {
	if c == nil {
		return errors.New("coordinator: save: nil checkpoint")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("coordinator: save step %d: %w", c.Step, err)
	}
	cp := c.Clone()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("save step %d: %w", c.Step, ErrClosed)
	}
	m.ckpts[cp.Step] = cp
	if m.keep > 0 && len(m.ckpts) > m.keep {
		steps := m.stepsLocked()
		for _, s := range steps[:len(steps)-m.keep] {
			delete(m.ckpts, s)
		}
	}
	return nil
}

// Latest returns a copy of the checkpoint with the highest step.
func (m *MemStore) Latest(ctx context.Context) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("coordinator: latest: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("latest: %w", ErrClosed)
	}
	steps := m.stepsLocked()
	if len(steps) == 0 {
		return nil, fmt.Errorf("latest: %w", ErrNoCheckpoint)
	}
	return m.ckpts[steps[len(steps)-1]].Clone(), nil
}

// Load returns a copy of the checkpoint of step.
func (m *MemStore) Load(ctx context.Context, step uint64) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("coordinator: load step %d: %w", step, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("load step %d: %w", step, ErrClosed)
	}
	c, ok := m.ckpts[step]
	if !ok {
		return nil, fmt.Errorf("load step %d: %w", step, ErrNoCheckpoint)
	}
	return c.Clone(), nil
}

// Steps returns the stored steps in increasing order.
func (m *MemStore) Steps(ctx context.Context) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("coordinator: steps: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("steps: %w", ErrClosed)
	}
	return m.stepsLocked(), nil
}

// Close drops every checkpoint. It is idempotent.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.ckpts = nil
	return nil
}

func (m *MemStore) stepsLocked() []uint64 {
	steps := make([]uint64, 0, len(m.ckpts))
	for s := range m.ckpts {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	return steps
}
