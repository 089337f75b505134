package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/craftml/craft/coordinator"
)

// ErrLocked is returned by Open when another process (or another Store in
// this one) holds the checkpoint file for longer than Config.LockTimeout.
var ErrLocked = errors.New("boltstore: checkpoint file in use by another process")

// ErrFormat is returned by Open for a bolt file that is not a Craft
// checkpoint file.
var ErrFormat = errors.New("boltstore: not a craft checkpoint file")

// ErrReadOnly is returned by Save on a store opened with Config.ReadOnly.
var ErrReadOnly = errors.New("boltstore: store is read-only")

const formatID = "craft-checkpoints/1"

var (
	bucketStore       = []byte("store")       // key "format" = formatID
	bucketCheckpoints = []byte("checkpoints") // a nested bucket per step
	keyFormat         = []byte("format")
	keyMeta           = []byte("meta")
)

// Config configures a Store.
type Config struct {
	// Keep is how many checkpoints are kept: the ones with the highest steps.
	// 0 keeps them all.
	Keep int
	// LockTimeout is how long Open waits for the file lock another process
	// holds before it fails with ErrLocked. Must be positive.
	LockTimeout time.Duration
	// ReadOnly opens the file with a shared lock (several readers may hold
	// it, no writer); Save then fails with ErrReadOnly.
	ReadOnly bool
	// NoSync skips fsync at commit: faster, but a machine crash (not a
	// process crash) may lose or tear the last checkpoints. For tests.
	NoSync bool
	// FileMode is the permission of a file Open creates.
	FileMode os.FileMode
}

// DefaultConfig returns the configuration of a coordinator's store: the
// last 3 checkpoints, a 1 s lock timeout, fsync on every commit.
func DefaultConfig() Config {
	return Config{Keep: 3, LockTimeout: time.Second, FileMode: 0o600}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.Keep < 0:
		return fmt.Errorf("boltstore: Keep = %d; want >= 0", c.Keep)
	case c.LockTimeout <= 0:
		return fmt.Errorf("boltstore: LockTimeout = %s; want > 0", c.LockTimeout)
	case c.FileMode&^os.ModePerm != 0 || c.FileMode == 0:
		return fmt.Errorf("boltstore: FileMode = %s; want permission bits only", c.FileMode)
	}
	return nil
}

// Store is the coordinator.Store on a bbolt file. It is safe for concurrent
// use; saves are serialised by bolt's single writer.
type Store struct {
	cfg  Config
	path string

	mu     sync.RWMutex // held for reading by operations, for writing by Close
	db     *bolt.DB
	closed bool
}

var _ coordinator.Store = (*Store)(nil)

// Open opens or creates the checkpoint file at path. It fails with ErrLocked
// when another process holds the file, with ErrFormat when the file is
// another application's bolt file, and with an error wrapping
// coordinator.ErrCorrupt when the file is damaged.
func Open(path string, cfg Config) (s *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkFile(path, cfg.LockTimeout); errors.Is(err, errLockTimeout) {
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, cfg.LockTimeout)
	} else if err != nil {
		return nil, checkErr(path, err)
	}
	var file *os.File
	opts := &bolt.Options{
		Timeout:  cfg.LockTimeout,
		ReadOnly: cfg.ReadOnly,
		NoSync:   cfg.NoSync,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	}
	var db *bolt.DB
	err = guard(func() error {
		var err error
		db, err = bolt.Open(path, cfg.FileMode, opts)
		return err
	})
	if err != nil {
		if db == nil && file != nil && errors.Is(err, coordinator.ErrCorrupt) {
			file.Close() // bolt panicked half-way and kept it
		}
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, cfg.LockTimeout)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("open %s: %w: %w", path, coordinator.ErrCorrupt, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s = &Store{cfg: cfg, path: path, db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// init checks that the file is whole and a Craft checkpoint file, and
// creates the buckets of a new file.
func (s *Store) init() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	check := func(tx *bolt.Tx) error {
		if fi.Size() < tx.Size() {
			return fmt.Errorf("%w: file is %d bytes, its pages need %d (truncated)", coordinator.ErrCorrupt, fi.Size(), tx.Size())
		}
		st := tx.Bucket(bucketStore)
		if st == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%w: no %q bucket", ErrFormat, bucketStore)
			}
			return nil
		}
		if f := st.Get(keyFormat); !bytes.Equal(f, []byte(formatID)) {
			return fmt.Errorf("%w: format %q, want %q", ErrFormat, f, formatID)
		}
		if tx.Bucket(bucketCheckpoints) == nil {
			return fmt.Errorf("%w: no %q bucket", coordinator.ErrCorrupt, bucketCheckpoints)
		}
		return nil
	}
	if err := s.view("open", check); err != nil {
		return err
	}
	if s.cfg.ReadOnly {
		return nil
	}
	return s.update("open", func(tx *bolt.Tx) error {
		st, err := tx.CreateBucketIfNotExists(bucketStore)
		if err != nil {
			return err
		}
		if st.Get(keyFormat) == nil {
			if err := st.Put(keyFormat, []byte(formatID)); err != nil {
				return err
			}
		}
		_, err = tx.CreateBucketIfNotExists(bucketCheckpoints)
		return err
	})
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Save writes c and prunes to the last Keep checkpoints in one transaction.
func (s *Store) Save(ctx context.Context, c *coordinator.Checkpoint) error {
	if c == nil {
		return errors.New("boltstore: save: nil checkpoint")
	}
	op := fmt.Sprintf("save step %d", c.Step)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	if s.cfg.ReadOnly {
		return fmt.Errorf("%s: %w", op, ErrReadOnly)
	}
	m := &meta{Step: c.Step, ConfigHash: c.ConfigHash}
	blobs := c.Blobs()
	for _, b := range blobs {
		m.Blobs = append(m.Blobs, blobMeta{Name: b.Name, Size: uint64(len(b.Data)), SHA256: sha256.Sum256(b.Data)})
	}
	rec := encodeMeta(m)
	key := stepKey(c.Step)
	return s.update(op, func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCheckpoints)
		if root.Bucket(key) != nil {
			if err := root.DeleteBucket(key); err != nil {
				return err
			}
		}
		b, err := root.CreateBucket(key)
		if err != nil {
			return err
		}
		if err := b.Put(keyMeta, rec); err != nil {
			return err
		}
		for _, bl := range blobs {
			if len(bl.Data) == 0 {
				continue
			}
			if err := b.Put([]byte(bl.Name), bl.Data); err != nil {
				return fmt.Errorf("blob %s: %w", bl.Name, err)
			}
		}
		return prune(root, s.cfg.Keep)
	})
}

// prune deletes the checkpoints of the lowest steps until keep remain.
func prune(root *bolt.Bucket, keep int) error {
	if keep <= 0 {
		return nil
	}
	var steps [][]byte
	c := root.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		steps = append(steps, bytes.Clone(k))
	}
	if len(steps) <= keep {
		return nil
	}
	old := steps[:len(steps)-keep]
	for _, k := range old {
		if err := root.DeleteBucket(k); err != nil {
			return fmt.Errorf("prune %x: %w", k, err)
		}
	}
	return nil
}

// Latest returns the checkpoint with the highest step.
func (s *Store) Latest(ctx context.Context) (*coordinator.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: latest: %w", err)
	}
	var c *coordinator.Checkpoint
	err := s.view("latest", func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCheckpoints)
		if root == nil {
			return coordinator.ErrNoCheckpoint
		}
		k, v := root.Cursor().Last()
		if k == nil {
			return coordinator.ErrNoCheckpoint
		}
		step, err := parseStepKey(k, v)
		if err != nil {
			return err
		}
		c, err = load(root, step)
		return err
	})
	return c, err
}

// Load returns the checkpoint of step.
func (s *Store) Load(ctx context.Context, step uint64) (*coordinator.Checkpoint, error) {
	op := fmt.Sprintf("load step %d", step)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: %s: %w", op, err)
	}
	var c *coordinator.Checkpoint
	err := s.view(op, func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCheckpoints)
		if root == nil {
			return coordinator.ErrNoCheckpoint
		}
		var err error
		c, err = load(root, step)
		return err
	})
	return c, err
}

// load reads, copies out and verifies the checkpoint of step.
func load(root *bolt.Bucket, step uint64) (*coordinator.Checkpoint, error) {
	b := root.Bucket(stepKey(step))
	if b == nil {
		return nil, coordinator.ErrNoCheckpoint
	}
	m, err := decodeMeta(b.Get(keyMeta))
	if err != nil {
		return nil, fmt.Errorf("checkpoint step %d: %w: %w", step, coordinator.ErrCorrupt, err)
	}
	if m.Step != step {
		return nil, fmt.Errorf("checkpoint step %d: %w: meta says step %d", step, coordinator.ErrCorrupt, m.Step)
	}
	c := &coordinator.Checkpoint{Step: step, ConfigHash: m.ConfigHash}
	for _, bl := range m.Blobs {
		v := b.Get([]byte(bl.Name))
		if uint64(len(v)) != bl.Size {
			return nil, fmt.Errorf("checkpoint step %d: blob %s: %w: %d bytes, meta says %d", step, bl.Name, coordinator.ErrCorrupt, len(v), bl.Size)
		}
		if got := sha256.Sum256(v); got != bl.SHA256 {
			return nil, fmt.Errorf("checkpoint step %d: blob %s: %w: sha256 %x, meta says %x", step, bl.Name, coordinator.ErrCorrupt, got[:8], bl.SHA256[:8])
		}
		var data []byte
		if len(v) > 0 {
			data = bytes.Clone(v) // v lives in bolt's mmap only until the tx ends
		}
		if !c.SetBlob(bl.Name, data) {
			return nil, fmt.Errorf("checkpoint step %d: %w: unknown blob %q", step, coordinator.ErrCorrupt, bl.Name)
		}
	}
	return c, nil
}

// Steps returns the stored steps in increasing order.
func (s *Store) Steps(ctx context.Context) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("boltstore: steps: %w", err)
	}
	steps := []uint64{}
	err := s.view("steps", func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketCheckpoints)
		if root == nil {
			return nil
		}
		return root.ForEach(func(k, v []byte) error {
			step, err := parseStepKey(k, v)
			if err != nil {
				return err
			}
			steps = append(steps, step)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return steps, nil
}

// Close closes the file and releases its lock. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) view(op string, fn func(*bolt.Tx) error) error {
	return s.run(op, s.db.View, fn)
}

func (s *Store) update(op string, fn func(*bolt.Tx) error) error {
	return s.run(op, s.db.Update, fn)
}

// run runs fn in a transaction and wraps its error with op. A panic or memory
// fault inside bolt (a damaged file) becomes an error wrapping
// coordinator.ErrCorrupt.
func (s *Store) run(op string, tx func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%s: %w", op, coordinator.ErrClosed)
	}
	err := guard(func() error { return tx(fn) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, coordinator.ErrNoCheckpoint), errors.Is(err, coordinator.ErrCorrupt), errors.Is(err, ErrFormat):
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("boltstore: %s: %w", op, err)
}

// guard calls fn, turning a panic or a memory fault in it into an error.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bolt failed on a damaged file: %v", coordinator.ErrCorrupt, r)
		}
	}()
	return fn()
}

func stepKey(step uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, step)
}

// parseStepKey decodes the key of a step bucket; v must be nil (a bucket).
func parseStepKey(k, v []byte) (uint64, error) {
	if len(k) != 8 || v != nil {
		return 0, fmt.Errorf("%w: stray key %x in %q", coordinator.ErrCorrupt, k, bucketCheckpoints)
	}
	return binary.BigEndian.Uint64(k), nil
}
