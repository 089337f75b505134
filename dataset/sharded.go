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
	// used beyond it are dropped (and read again from CacheDir when next
	// needed). 0 keeps every loaded shard.
	MaxResident int
}

// ShardedSource is the Source of a Manifest whose shards come from a
// ShardFetcher: it serves exactly the samples of the Source that was
// packed. Shards are loaded by Prefetch (or Load, LoadAll), verified
// against the manifest's length and SHA-256, cached in CacheDir and kept in
// memory; Sample of a sample whose shard is not loaded panics.
//
// A ShardedSource is safe for concurrent use. With MaxResident set, a
// Prefetch may drop shards loaded earlier but not those of its own call,
// so prefetching the next batch while reading the current one needs
// MaxResident to hold the shards of both.
type ShardedSource struct {
	m     *Manifest
	f     ShardFetcher
	cfg   ShardedConfig
	tok   Tokenizer
	mu    sync.Mutex
	res   map[int]*resident
	clock uint64
}

type resident struct {
	data []byte
	used uint64
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
	for _, i := range indices {
		if i < 0 || i >= d.m.Samples[s] {
			return fmt.Errorf("prefetch: sample %d of %s out of range [0, %d)", i, s, d.m.Samples[s])
		}
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
	if d.cfg.MaxResident > 0 && len(shards) > d.cfg.MaxResident {
		return fmt.Errorf("%w: load %d shards with MaxResident %d", ErrConfig, len(shards), d.cfg.MaxResident)
	}
	keep := make(map[int]bool, len(shards))
	for _, k := range shards {
		if k < 0 || k >= len(d.m.Shards) {
			return fmt.Errorf("load shard %d: out of range [0, %d)", k, len(d.m.Shards))
		}
		keep[k] = true
		d.mu.Lock()
		r := d.res[k]
		if r != nil {
			d.clock++
			r.used = d.clock
		}
		d.mu.Unlock()
		if r != nil {
			continue
		}
		data, err := d.get(ctx, k)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.clock++
		d.res[k] = &resident{data: data, used: d.clock}
		d.evict(keep)
		d.mu.Unlock()
	}
	return nil
}

// evict drops least recently used shards not in keep until at most
// MaxResident remain. d.mu is held.
func (d *ShardedSource) evict(keep map[int]bool) {
	for d.cfg.MaxResident > 0 && len(d.res) > d.cfg.MaxResident {
		victim, oldest := -1, uint64(math.MaxUint64)
		for k, r := range d.res {
			if !keep[k] && r.used < oldest {
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
		path = filepath.Join(d.cfg.CacheDir, info.SHA256+".shard")
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
	le := binary.LittleEndian
	switch data := r.data; d.m.Layout {
	case LayoutWindow:
		tb := d.m.TokenBytes
		tok := func(p int) int32 {
			if tb == 2 {
				return int32(le.Uint16(data[p*2:]))
			}
			return int32(le.Uint32(data[p*4:]))
		}
		x, y = x[:w], y[:w]
		for t := range w {
			x[t] = tok(j + t)
			y[t] = tok(j + t + 1)
		}
	case LayoutXY:
		off := j * 2 * w * 4
		x, y = x[:w], y[:w]
		for t := range w {
			x[t] = int32(le.Uint32(data[off+4*t:]))
			y[t] = int32(le.Uint32(data[off+4*(w+t):]))
		}
	case LayoutRows:
		off := j * (w + 1) * 4
		feats = feats[:w]
		for t := range w {
			feats[t] = math.Float32frombits(le.Uint32(data[off+4*t:]))
		}
		y[0] = int32(le.Uint32(data[off+4*w:]))
	}
}
