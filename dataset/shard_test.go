package dataset

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// testSources returns one small source of each kind and layout.
func testSources(t testing.TB) map[string]Source {
	t.Helper()
	add, err := NewAddition(2, 0.1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	corpus := strings.Repeat("Now is the winter of our discontent made glorious summer. ", 30)
	char, err := NewText(NewChar(corpus).Encode(corpus), NewChar(corpus), 16, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := TrainBPE([]byte(corpus), 300)
	if err != nil {
		t.Fatal(err)
	}
	btext, err := NewText(bpe.Encode(corpus), bpe, 8, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	var feats []float32
	var labels []int32
	for i := range 101 {
		feats = append(feats, float32(i), float32(i*i)/7, -float32(i)/3)
		labels = append(labels, int32(i%4))
	}
	csv, err := NewCSV(feats, labels, 3, 0.2, 9)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Source{"addition": add, "text-char": char, "text-bpe": btext, "csv": csv}
}

// sameSamples fails unless got serves the samples of want, for the given
// indices of split s (nil: all).
func sameSamples(t testing.TB, want, got Source, s Split, indices []int) {
	t.Helper()
	if err := diffSamples(want, got, s, indices); err != nil {
		t.Fatal(err)
	}
}

func diffSamples(want, got Source, s Split, indices []int) error {
	if indices == nil {
		for i := range want.Len(s) {
			indices = append(indices, i)
		}
	}
	w := want.Width()
	x1, y1, f1 := make([]int32, w), make([]int32, w), make([]float32, w)
	x2, y2, f2 := make([]int32, w), make([]int32, w), make([]float32, w)
	for _, i := range indices {
		want.Sample(s, i, x1, y1, f1)
		got.Sample(s, i, x2, y2, f2)
		if want.Task() == Classify {
			x1, x2 = x1[:0], x2[:0]
			y1, y2 = y1[:1], y2[:1]
		}
		if !slices.Equal(x1, x2) || !slices.Equal(y1, y2) || !slices.Equal(f1, f2) {
			return fmt.Errorf("Sample(%s, %d) = %v %v %v; want %v %v %v", s, i, x2, y2, f2, x1, y1, f1)
		}
		x1, x2, y1, y2 = x1[:w], x2[:w], y1[:w], y2[:w]
	}
	return nil
}

func TestShardedSourceMatches(t *testing.T) {
	for name, src := range testSources(t) {
		for _, per := range []int{1, 7, 100, 1 << 20} {
			t.Run(fmt.Sprintf("%s/shard=%d", name, per), func(t *testing.T) {
				m, shards, err := Pack(src, per)
				if err != nil {
					t.Fatal(err)
				}
				d, err := NewShardedSource(m, MemFetcher(shards), ShardedConfig{})
				if err != nil {
					t.Fatal(err)
				}
				if err := d.LoadAll(context.Background()); err != nil {
					t.Fatal(err)
				}
				if d.Task() != src.Task() || d.Width() != src.Width() || d.Classes() != src.Classes() ||
					d.Len(Train) != src.Len(Train) || d.Len(Val) != src.Len(Val) {
					t.Fatalf("ShardedSource shape differs from the source's")
				}
				if k, ok := src.(Kinded); ok && d.Kind() != k.Kind() {
					t.Errorf("Kind() = %q; want %q", d.Kind(), k.Kind())
				}
				for _, s := range Splits {
					sameSamples(t, src, d, s, nil)
				}
				if tok := src.Tokenizer(); tok != nil {
					ids := tok.Encode("Now is the winter")
					if got := d.Tokenizer().Decode(ids); got != tok.Decode(ids) {
						t.Errorf("Tokenizer().Decode = %q; want %q", got, tok.Decode(ids))
					}
				}
				if fs, ok := src.(FeatureStats); ok {
					m1, s1 := fs.FeatureStats()
					m2, s2 := d.FeatureStats()
					if !slices.Equal(m1, m2) || !slices.Equal(s1, s2) {
						t.Errorf("FeatureStats() = %v, %v; want %v, %v", m2, s2, m1, s1)
					}
				}
			})
		}
	}
}

// TestShardedPrefetch fetches only the shards of a few batches through a
// disk cache with a small memory budget.
func TestShardedPrefetch(t *testing.T) {
	src := testSources(t)["text-char"]
	m, shards, err := Pack(src, 50)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	f := FetcherFunc(func(ctx context.Context, i int) ([]byte, error) {
		fetches.Add(1)
		return MemFetcher(shards).Fetch(ctx, i)
	})
	dir := t.TempDir()
	d, err := NewShardedSource(m, f, ShardedConfig{CacheDir: dir, MaxResident: 4})
	if err != nil {
		t.Fatal(err)
	}
	sm := NewSampler(5, src.Len(Train), 4)
	idx := make([]int, 4)
	for step := range 30 {
		sm.Batch(step, idx)
		if err := d.Prefetch(context.Background(), Train, idx); err != nil {
			t.Fatal(err)
		}
		sameSamples(t, src, d, Train, idx)
		if d.Resident() > 4 {
			t.Fatalf("Resident() = %d; want <= MaxResident 4", d.Resident())
		}
	}
	if got := fetches.Load(); got > int64(len(m.Shards)) {
		t.Errorf("fetched %d times for %d shards; want each once, then from the disk cache", got, len(m.Shards))
	}
	// A second source over the same cache needs no fetcher.
	none := FetcherFunc(func(context.Context, int) ([]byte, error) { return nil, errors.New("offline") })
	d2, err := NewShardedSource(m, none, ShardedConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cached, _ := filepath.Glob(filepath.Join(dir, "*.shard"))
	var need []int
	for _, c := range cached {
		for _, sh := range m.Shards {
			if filepath.Base(c) == sh.SHA256+".shard" && sh.Split == Train {
				need = append(need, sh.First)
			}
		}
	}
	if len(need) == 0 {
		t.Fatal("no shard in the disk cache")
	}
	if err := d2.Prefetch(context.Background(), Train, need); err != nil {
		t.Fatalf("Prefetch from the disk cache = %v; want nil", err)
	}
	sameSamples(t, src, d2, Train, need)
}

func TestShardedCorrupt(t *testing.T) {
	src := testSources(t)["addition"]
	m, shards, err := Pack(src, 1000)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func([]byte) []byte
		shard int
		want  string
	}{
		{"flipped byte", func(b []byte) []byte { b[17] ^= 1; return b }, 3, "shard 3 (train samples 3000-3999): sha256"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, 9, "shard 9 (val samples 0-999):"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := slices.Clone(shards)
			bad[tt.shard] = tt.edit(slices.Clone(bad[tt.shard]))
			dir := t.TempDir()
			d, err := NewShardedSource(m, MemFetcher(bad), ShardedConfig{CacheDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			err = d.LoadAll(context.Background())
			if !errors.Is(err, ErrCorruptShard) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadAll with a corrupt shard %d = %v; want ErrCorruptShard naming %q", tt.shard, err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, m.Shards[tt.shard].SHA256+".shard")); err == nil {
				t.Errorf("the corrupt shard %d was written to the cache", tt.shard)
			}
		})
	}
	// A corrupt file in the disk cache is fetched again.
	dir := t.TempDir()
	path := filepath.Join(dir, m.Shards[0].SHA256+".shard")
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := NewShardedSource(m, MemFetcher(shards), ShardedConfig{CacheDir: dir})
	if err := d.Load(context.Background(), 0); err != nil {
		t.Fatalf("Load over a corrupt cache file = %v; want a refetch", err)
	}
	if b, _ := os.ReadFile(path); !slices.Equal(b, shards[0]) {
		t.Errorf("cache file after refetch holds %d bytes; want shard 0", len(b))
	}
}

func TestShardedNotLoadedPanics(t *testing.T) {
	src := testSources(t)["csv"]
	m, shards, _ := Pack(src, 10)
	d, _ := NewShardedSource(m, MemFetcher(shards), ShardedConfig{})
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "not loaded") {
			t.Errorf("Sample of an unloaded shard recovered %v; want a not-loaded panic", r)
		}
	}()
	d.Sample(Train, 0, nil, make([]int32, 1), make([]float32, 3))
}

func TestShardsFor(t *testing.T) {
	m := &Manifest{ShardSamples: 10, Samples: [2]int{95, 21}}
	tests := []struct {
		s       Split
		indices []int
		want    []int
	}{
		{Train, []int{0, 9, 10, 94}, []int{0, 1, 9}},
		{Train, []int{55, 3, 51, 57}, []int{0, 5}},
		{Val, []int{0, 20}, []int{10, 12}},
		{Val, nil, []int{}},
	}
	for _, tt := range tests {
		if got := m.ShardsFor(tt.s, tt.indices); !slices.Equal(got, tt.want) {
			t.Errorf("ShardsFor(%s, %v) = %v; want %v", tt.s, tt.indices, got, tt.want)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	for name, src := range testSources(t) {
		t.Run(name, func(t *testing.T) {
			m, _, err := Pack(src, 64)
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalManifest(b)
			if err != nil {
				t.Fatalf("UnmarshalManifest(MarshalBinary()) = %v", err)
			}
			if got.Digest() != m.Digest() {
				t.Errorf("Digest after a round trip = %s; want %s", got.Digest(), m.Digest())
			}
		})
	}
}

func TestUnmarshalManifestErrors(t *testing.T) {
	src := testSources(t)["addition"]
	m, _, _ := Pack(src, 4000)
	good, _ := m.MarshalBinary()
	edit := func(f func(*Manifest)) []byte {
		c := *m
		c.Shards = slices.Clone(m.Shards)
		f(&c)
		b, _ := c.MarshalBinary()
		return b
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not json", []byte("shards")},
		{"trailing", append(slices.Clone(good), " {}"...)},
		{"unknown field", []byte(strings.Replace(string(good), `"version"`, `"extra":1,"version"`, 1))},
		{"version", edit(func(m *Manifest) { m.Version = 2 })},
		{"layout", edit(func(m *Manifest) { m.Layout = "rows" })},
		{"width", edit(func(m *Manifest) { m.Width = 0 })},
		{"classes vs tokenizer", edit(func(m *Manifest) { m.Classes = 13 })},
		{"bad tokenizer", edit(func(m *Manifest) { m.Tokenizer = []byte("nope") })},
		{"missing shard", edit(func(m *Manifest) { m.Shards = m.Shards[1:] })},
		{"shard bytes", edit(func(m *Manifest) { m.Shards[0].Bytes++ })},
		{"shard first", edit(func(m *Manifest) { m.Shards[1].First++ })},
		{"shard sha", edit(func(m *Manifest) { m.Shards[0].SHA256 = "abc" })},
		{"samples", edit(func(m *Manifest) { m.Samples[Val] = -1 })},
		{"huge samples", edit(func(m *Manifest) { m.Samples[Train] = 1 << 62 })},
		{"huge shards", edit(func(m *Manifest) { m.ShardSamples = 1 << 40 })},
		{"lm with stats", edit(func(m *Manifest) { m.FeatureMean = []float32{1} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalManifest(tt.in); !errors.Is(err, ErrBadManifest) {
				t.Errorf("UnmarshalManifest(%.60q) error = %v; want ErrBadManifest", tt.in, err)
			}
		})
	}
}

func FuzzUnmarshalManifest(f *testing.F) {
	for _, src := range testSources(f) {
		m, _, err := Pack(src, 500)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalManifest(b)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("UnmarshalManifest error = %v; want ErrBadManifest", err)
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := UnmarshalManifest(again)
		if err != nil || m2.Digest() != m.Digest() {
			t.Fatalf("re-decoding an accepted manifest = %v; want the same manifest", err)
		}
		for _, s := range Splits {
			if n := m.Samples[s]; n > 0 {
				_ = m.ShardsFor(s, []int{0, n - 1})
			}
		}
	})
}

// TestShakespeareShards packs Tiny Shakespeare and checks random samples.
func TestShakespeareShards(t *testing.T) {
	path := sharedPath(t, "tinyshakespeare.txt")
	src, err := Open(textConfig(path, "char", 64, 0.1))
	if err != nil {
		t.Fatal(err)
	}
	m, shards, err := Pack(src, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewShardedSource(m, MemFetcher(shards), ShardedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range Splits {
		idx := make([]int, 500)
		for i := range idx {
			idx[i] = rng.IntN(src.Len(s))
		}
		idx = append(idx, 0, src.Len(s)-1)
		if err := d.Prefetch(context.Background(), s, idx); err != nil {
			t.Fatal(err)
		}
		sameSamples(t, src, d, s, idx)
	}
	var total int64
	for _, sh := range m.Shards {
		total += sh.Bytes
	}
	t.Logf("tinyshakespeare: %d shards, %d bytes (2 bytes/token plus %d-token overlaps)", len(m.Shards), total, m.Width)
}

// TestShardedConcurrent reads one ShardedSource from several goroutines,
// each acquiring its own rank's share of every step (run with -race).
func TestShardedConcurrent(t *testing.T) {
	src := testSources(t)["addition"]
	m, shards, err := Pack(src, 300)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewShardedSource(m, MemFetcher(shards), ShardedConfig{CacheDir: t.TempDir(), MaxResident: 20})
	if err != nil {
		t.Fatal(err)
	}
	const ranks, batch = 4, 16
	errs := make(chan error, ranks)
	for r := range ranks {
		go func() {
			sm := NewSampler(1, src.Len(Train), batch)
			off, n := Share(batch, ranks, r)
			idx := make([]int, n)
			for step := range 50 {
				sm.Range(step, off, idx)
				release, err := d.Acquire(context.Background(), Train, idx)
				if err != nil {
					errs <- err
					return
				}
				err = diffSamples(src, d, Train, idx)
				release()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range ranks {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if d.Resident() > 20 {
		t.Errorf("Resident() = %d after every release; want <= MaxResident 20", d.Resident())
	}
}

func TestPackDir(t *testing.T) {
	for name, src := range testSources(t) {
		t.Run(name, func(t *testing.T) {
			per := SamplesPerShard(src, 1000)
			dir := t.TempDir()
			m, err := PackDir(src, per, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range m.Shards[:len(m.Shards)-1] {
				if sh.Split == m.Shards[sh.Index+1].Split && (sh.Bytes > 1000 || sh.Bytes < 500) {
					t.Errorf("shard %d of SamplesPerShard(1000) = %d samples is %d bytes; want about 1000", sh.Index, per, sh.Bytes)
				}
			}
			d, err := NewShardedSource(m, DirFetcher{Dir: dir, Manifest: m}, ShardedConfig{CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.LoadAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, s := range Splits {
				sameSamples(t, src, d, s, nil)
			}
		})
	}
}
