package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// ShardFetcher gets the bytes of a shard of a Manifest, typically from the
// coordinator. Fetch must be safe for concurrent use and honour ctx; the
// caller owns the returned slice and may keep it. The ShardedSource
// verifies what it returns, so a fetcher need not.
type ShardFetcher interface {
	Fetch(ctx context.Context, index int) ([]byte, error)
}

// FetcherFunc adapts a function to ShardFetcher.
type FetcherFunc func(ctx context.Context, index int) ([]byte, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, index int) ([]byte, error) { return f(ctx, index) }

// MemFetcher is the in-memory ShardFetcher: shard i is MemFetcher[i], as
// Pack returns them. Fetch returns a copy.
type MemFetcher [][]byte

// Fetch returns a copy of shard index.
func (f MemFetcher) Fetch(ctx context.Context, index int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if index < 0 || index >= len(f) {
		return nil, fmt.Errorf("fetch shard %d: %w", index, fs.ErrNotExist)
	}
	return append([]byte(nil), f[index]...), nil
}

// ShardedConfig tunes a ShardedSource.
type ShardedConfig struct {
	// CacheDir, when set, is a directory where fetched shards are kept,
	// named by their SHA-256, so a restarted worker (or another run over
	// the same data) reads them from disk; it is created if missing.
	CacheDir string
	// MaxResident bounds the shards held in memory; the least recently
	// used unpinned shards beyond it are dropped (and read again from
	// CacheDir when next needed). 0 keeps every loaded shard.
	MaxResident int
}

// ShardedSource is the Source of a Manifest whose shards come from a
// ShardFetcher: it serves exactly the samples of the Source that was
// packed. Shards are loaded by Prefetch (or Load, LoadAll), verified
// against the manifest's length and SHA-256, cached in CacheDir and kept in
// memory; Sample of a sample whose shard is not loaded panics.
//
// A ShardedSource is safe for concurrent use. MaxResident is a soft bound:
// a Load never drops the shards of its own call nor pinned shards, so it
// may be exceeded while they are in use. When several goroutines share the
// source with MaxResident set (or one prefetches the next batch while
// reading the current), each should Acquire its shards and release them
// after reading, else one goroutine's Prefetch may drop another's shards.
type ShardedSource struct {
	m     *Manifest
	f     ShardFetcher
	cfg   ShardedConfig
	tok   Tokenizer
	mu    sync.Mutex
	res   map[int]*resident
	clock uint64
}

// resident is a loaded shard, decoded from its bytes: 2-byte window
// tokens in u16; 4-byte window tokens and xy samples in i32; rows in f32
// with each label's bits in place.
type resident struct {
	u16  []uint16
	i32  []int32
	f32  []float32
	used uint64 // clock of the last use, for LRU eviction
	pins int    // outstanding Acquire calls holding it
}

func (d *ShardedSource) decode(data []byte) *resident {
	le := binary.LittleEndian
	r := &resident{}
	switch {
	case d.m.Layout == LayoutWindow && d.m.TokenBytes == 2:
		r.u16 = make([]uint16, len(data)/2)
		for i := range r.u16 {
			r.u16[i] = le.Uint16(data[2*i:])
		}
	case d.m.Layout == LayoutRows:
		r.f32 = make([]float32, len(data)/4)
		for i := range r.f32 {
			r.f32[i] = math.Float32frombits(le.Uint32(data[4*i:]))
		}
	default:
		r.i32 = make([]int32, len(data)/4)
		for i := range r.i32 {
			r.i32[i] = int32(le.Uint32(data[4*i:]))
		}
	}
	return r
}

// NewShardedSource returns the source of m (which it validates) over f.
func NewShardedSource(m *Manifest, f ShardFetcher, cfg ShardedConfig) (*ShardedSource, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxResident < 0 {
		return nil, fmt.Errorf("%w: MaxResident: %d is negative", ErrConfig, cfg.MaxResident)
	}
	d := &ShardedSource{m: m, f: f, cfg: cfg, res: map[int]*resident{}}
	if m.Task == LM {
		tok, err := UnmarshalTokenizer(m.Tokenizer)
		if err != nil {
			return nil, err
		}
		d.tok = tok
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("shard cache: %w", err)
		}
	}
	return d, nil
}

// Manifest returns the manifest; callers must not modify it.
func (d *ShardedSource) Manifest() *Manifest { return d.m }

// Kind returns the kind of the packed source.
func (d *ShardedSource) Kind() string { return d.m.Kind }

// Task returns the task of the packed source.
func (d *ShardedSource) Task() Task { return d.m.Task }

// Len is the number of samples of split s.
func (d *ShardedSource) Len(s Split) int { return d.m.Samples[s] }

// Width is the width of the packed source.
func (d *ShardedSource) Width() int { return d.m.Width }

// Classes is the number of classes of the packed source.
func (d *ShardedSource) Classes() int { return d.m.Classes }

// Tokenizer returns the tokenizer of the manifest; nil for Classify.
func (d *ShardedSource) Tokenizer() Tokenizer { return d.tok }

// FeatureStats returns the manifest's Train feature statistics; nil for LM.
func (d *ShardedSource) FeatureStats() (mean, std []float32) {
	return d.m.FeatureMean, d.m.FeatureStd
}

// Resident returns the number of shards held in memory.
func (d *ShardedSource) Resident() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.res)
}

// Prefetch loads the shards that hold the given samples of split s.
func (d *ShardedSource) Prefetch(ctx context.Context, s Split, indices []int) error {
	if err := d.checkIndices(s, indices); err != nil {
		return fmt.Errorf("prefetch: %w", err)
	}
	return d.Load(ctx, d.m.ShardsFor(s, indices)...)
}

// LoadAll loads every shard.
func (d *ShardedSource) LoadAll(ctx context.Context) error {
	all := make([]int, len(d.m.Shards))
	for i := range all {
		all[i] = i
	}
	return d.Load(ctx, all...)
}

// Load makes the given shards resident: from memory, else from the disk
// cache, else from the fetcher, verifying each. It fails, wrapping
// ErrCorruptShard and naming the shard, if fetched bytes do not match the
// manifest.
func (d *ShardedSource) Load(ctx context.Context, shards ...int) error {
	_, err := d.load(ctx, shards, false)
	return err
}

// Acquire is Prefetch that also pins the shards until release is called,
// so that no other goroutine's Load evicts them while they are read.
// release may be called more than once.
func (d *ShardedSource) Acquire(ctx context.Context, s Split, indices []int) (release func(), err error) {
	if err := d.checkIndices(s, indices); err != nil {
		return nil, err
	}
	pinned, err := d.load(ctx, d.m.ShardsFor(s, indices), true)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { d.unpin(pinned) }) }, nil
}

func (d *ShardedSource) checkIndices(s Split, indices []int) error {
	for _, i := range indices {
		if i < 0 || i >= d.m.Samples[s] {
			return fmt.Errorf("sample %d of %s out of range [0, %d)", i, s, d.m.Samples[s])
		}
	}
	return nil
}

func (d *ShardedSource) unpin(shards []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range shards {
		d.res[k].pins--
	}
	d.evict(nil)
}

// load makes shards resident, pinning each if pin, and returns the shards
// it pinned.
func (d *ShardedSource) load(ctx context.Context, shards []int, pin bool) (pinned []int, err error) {
	keep := make(map[int]bool, len(shards))
	defer func() {
		if err != nil {
			d.unpin(pinned)
			pinned = nil
		}
	}()
	for _, k := range shards {
		if k < 0 || k >= len(d.m.Shards) {
			return pinned, fmt.Errorf("load shard %d: out of range [0, %d)", k, len(d.m.Shards))
		}
		keep[k] = true
		d.mu.Lock()
		r := d.res[k]
		if r != nil {
			d.touch(r, pin)
			if pin {
				pinned = append(pinned, k)
			}
		}
		d.mu.Unlock()
		if r != nil {
			continue
		}
		data, err := d.get(ctx, k)
		if err != nil {
			return pinned, err
		}
		r = d.decode(data)
		d.mu.Lock()
		if old := d.res[k]; old != nil { // loaded meanwhile by another goroutine
			r = old
		} else {
			d.res[k] = r
		}
		d.touch(r, pin)
		if pin {
			pinned = append(pinned, k)
		}
		d.evict(keep)
		d.mu.Unlock()
	}
	return pinned, nil
}

// touch marks r used now and pins it if pin. d.mu is held.
func (d *ShardedSource) touch(r *resident, pin bool) {
	d.clock++
	r.used = d.clock
	if pin {
		r.pins++
	}
}

// evict drops the least recently used shards, neither pinned nor in keep,
// until at most MaxResident remain or none can go. d.mu is held.
func (d *ShardedSource) evict(keep map[int]bool) {
	for d.cfg.MaxResident > 0 && len(d.res) > d.cfg.MaxResident {
		victim, oldest := -1, uint64(math.MaxUint64)
		for k, r := range d.res {
			if r.pins == 0 && !keep[k] && r.used < oldest {
				victim, oldest = k, r.used
			}
		}
		if victim < 0 {
			return
		}
		delete(d.res, victim)
	}
}

// get returns the verified bytes of shard k from the disk cache or the
// fetcher, filling the cache.
func (d *ShardedSource) get(ctx context.Context, k int) ([]byte, error) {
	info := d.m.Shards[k]
	path := ""
	if d.cfg.CacheDir != "" {
		path = filepath.Join(d.cfg.CacheDir, ShardFile(info))
		if data, err := os.ReadFile(path); err == nil {
			if verifyShard(info, data) == nil {
				return data, nil
			}
			os.Remove(path) // corrupt on disk: fetch it again
		}
	}
	data, err := d.f.Fetch(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("fetch shard %d: %w", k, err)
	}
	if err := verifyShard(info, data); err != nil {
		return nil, err
	}
	if path != "" {
		if err := writeAtomic(path, data); err != nil {
			return nil, fmt.Errorf("cache shard %d: %w", k, err)
		}
	}
	return data, nil
}

// verifyShard checks data against its manifest entry.
func verifyShard(info ShardInfo, data []byte) error {
	if int64(len(data)) != info.Bytes {
		return fmt.Errorf("%w: shard %d (%s samples %d-%d): %d bytes, want %d",
			ErrCorruptShard, info.Index, info.Split, info.First, info.First+info.Samples-1, len(data), info.Bytes)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != info.SHA256 {
		return fmt.Errorf("%w: shard %d (%s samples %d-%d): sha256 %s, want %s",
			ErrCorruptShard, info.Index, info.Split, info.First, info.First+info.Samples-1, got, info.SHA256)
	}
	return nil
}

// writeAtomic writes data to path through a temporary file and a rename,
// so a reader never sees a partial shard.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".shard-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// errNotLoaded explains the panic of Sample on a shard that is not resident.
var errNotLoaded = errors.New("not loaded; call Prefetch first")

// Sample writes sample i of split s from its shard, which must be loaded.
func (d *ShardedSource) Sample(s Split, i int, x, y []int32, feats []float32) {
	k := d.m.Shard(s, i)
	d.mu.Lock()
	r := d.res[k]
	if r != nil {
		d.clock++
		r.used = d.clock
	}
	d.mu.Unlock()
	if r == nil {
		panic(fmt.Sprintf("dataset: sample %d of %s is in shard %d, which is %v", i, s, k, errNotLoaded))
	}
	j := i - d.m.Shards[k].First
	w := d.m.Width
	switch d.m.Layout {
	case LayoutWindow:
		x, y = x[:w], y[:w]
		if r.u16 != nil {
			win := r.u16[j : j+w+1]
			for t := range w {
				x[t] = int32(win[t])
			}
			for t := range w {
				y[t] = int32(win[t+1])
			}
		} else {
			copy(x, r.i32[j:j+w])
			copy(y, r.i32[j+1:j+w+1])
		}
	case LayoutXY:
		off := j * 2 * w
		copy(x[:w], r.i32[off:off+w])
		copy(y[:w], r.i32[off+w:off+2*w])
	case LayoutRows:
		off := j * (w + 1)
		copy(feats[:w], r.f32[off:off+w])
		y[0] = int32(math.Float32bits(r.f32[off+w]))
	}
}
