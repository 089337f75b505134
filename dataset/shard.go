package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Shard layouts: how the samples of a shard are laid out in its bytes.
// All numbers are little-endian.
const (
	// LayoutWindow holds a text shard of samples [First, First+Samples) as
	// the Samples+T tokens they read, TokenBytes each: consecutive windows
	// overlap, so the T tokens after a shard's last window start are
	// repeated at the start of the next shard and no sample straddles two.
	LayoutWindow = "window"
	// LayoutXY holds each LM sample as T int32 of x then T int32 of y.
	LayoutXY = "xy"
	// LayoutRows holds each classification row as Width float32 features
	// then an int32 label.
	LayoutRows = "rows"
)

const manifestVersion = 1

// Manifest describes a packed dataset: what its samples are and the
// shards that hold them, each with its length and SHA-256. Train shards
// come first, then Val shards; a shard's Index is its position in Shards.
// Shard k of a split holds its samples [k·ShardSamples, (k+1)·ShardSamples).
type Manifest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"`   // the source kind, as Config.Kind
	Task    Task   `json:"task"`   // LM or Classify
	Layout  string `json:"layout"` // LayoutWindow, LayoutXY or LayoutRows
	Width   int    `json:"width"`  // Source.Width
	Classes int    `json:"classes"`
	// TokenBytes is the size of one token of LayoutWindow: 2 or 4.
	TokenBytes int `json:"token_bytes,omitempty"`
	// Tokenizer is the MarshalBinary of the LM tokenizer; empty for Classify.
	Tokenizer []byte `json:"tokenizer,omitempty"`
	// FeatureMean and FeatureStd are the Train feature statistics of Classify.
	FeatureMean []float32 `json:"feature_mean,omitempty"`
	FeatureStd  []float32 `json:"feature_std,omitempty"`
	// ShardSamples is the number of samples per shard (the last of a split may hold fewer).
	ShardSamples int `json:"shard_samples"`
	// Samples is the number of samples of each split, indexed by Split.
	Samples [2]int      `json:"samples"`
	Shards  []ShardInfo `json:"shards"`
}

// ShardInfo is one shard of a Manifest.
type ShardInfo struct {
	Index   int    `json:"index"`   // position in Manifest.Shards
	Split   Split  `json:"split"`   // the split whose samples it holds
	First   int    `json:"first"`   // index of its first sample in the split
	Samples int    `json:"samples"` // number of samples it holds
	Bytes   int64  `json:"bytes"`   // length of its bytes
	SHA256  string `json:"sha256"`  // hex SHA-256 of its bytes
}

// Pack reads every sample of src and cuts each split into shards of
// shardSamples samples. It returns the manifest and the shards' bytes,
// indexed like Manifest.Shards. PackTo does the same without holding all
// shards in memory.
func Pack(src Source, shardSamples int) (*Manifest, [][]byte, error) {
	var shards [][]byte
	m, err := PackTo(src, shardSamples, func(_ ShardInfo, data []byte) error {
		shards = append(shards, slices.Clone(data))
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return m, shards, nil
}

// PackTo is Pack calling emit with each shard, in index order, instead of
// returning them; emit must not keep data after it returns. An error from
// emit stops packing and is returned.
func PackTo(src Source, shardSamples int, emit func(info ShardInfo, data []byte) error) (*Manifest, error) {
	if shardSamples < 1 {
		return nil, fmt.Errorf("%w: shard samples %d is not positive", ErrConfig, shardSamples)
	}
	m := &Manifest{
		Version: manifestVersion, Kind: "custom", Task: src.Task(),
		Width: src.Width(), Classes: src.Classes(), ShardSamples: shardSamples,
	}
	if k, ok := src.(Kinded); ok {
		m.Kind = k.Kind()
	}
	for _, s := range Splits {
		m.Samples[s] = src.Len(s)
	}
	tokens, windowed := src.(interface{ Tokens(Split) []int32 })
	switch {
	case src.Task() == Classify:
		m.Layout = LayoutRows
		m.FeatureMean, m.FeatureStd = sourceStats(src)
	case windowed:
		m.Layout, m.TokenBytes = LayoutWindow, 4
		if m.Classes <= 1<<16 {
			m.TokenBytes = 2
		}
	default:
		m.Layout = LayoutXY
	}
	if m.Task == LM {
		tok := src.Tokenizer()
		if tok == nil {
			return nil, fmt.Errorf("%w: an LM source without a tokenizer cannot be packed", ErrConfig)
		}
		b, err := tok.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("pack: tokenizer: %w", err)
		}
		m.Tokenizer = b
	}
	w := m.Width
	x, y, feats := make([]int32, w), make([]int32, w), make([]float32, w)
	var buf []byte
	for _, s := range Splits {
		n := m.Samples[s]
		for first := 0; first < n; first += shardSamples {
			count := min(shardSamples, n-first)
			buf = buf[:0]
			switch m.Layout {
			case LayoutWindow:
				for _, t := range tokens.Tokens(s)[first : first+count+w] {
					if m.TokenBytes == 2 {
						buf = binary.LittleEndian.AppendUint16(buf, uint16(t))
					} else {
						buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
					}
				}
			case LayoutXY:
				for i := first; i < first+count; i++ {
					src.Sample(s, i, x, y, nil)
					for _, v := range x {
						buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
					}
					for _, v := range y {
						buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
					}
				}
			case LayoutRows:
				for i := first; i < first+count; i++ {
					src.Sample(s, i, nil, y, feats)
					for _, v := range feats {
						buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
					}
					buf = binary.LittleEndian.AppendUint32(buf, uint32(y[0]))
				}
			}
			sum := sha256.Sum256(buf)
			info := ShardInfo{
				Index: len(m.Shards), Split: s, First: first, Samples: count,
				Bytes: int64(len(buf)), SHA256: hex.EncodeToString(sum[:]),
			}
			m.Shards = append(m.Shards, info)
			if err := emit(info, buf); err != nil {
				return nil, fmt.Errorf("pack shard %d: %w", info.Index, err)
			}
		}
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return m, nil
}

// sourceStats returns src's FeatureStats, or computes them over Train.
func sourceStats(src Source) (mean, std []float32) {
	if fs, ok := src.(FeatureStats); ok {
		if m, s := fs.FeatureStats(); len(m) == src.Width() && len(s) == src.Width() {
			return slices.Clone(m), slices.Clone(s)
		}
	}
	w, n := src.Width(), src.Len(Train)
	x := make([]float32, 0, n*w)
	y := make([]int32, 1)
	f := make([]float32, w)
	for i := range n {
		src.Sample(Train, i, nil, y, f)
		x = append(x, f...)
	}
	if n == 0 {
		mean, std = make([]float32, w), make([]float32, w)
		for j := range std {
			std[j] = 1
		}
		return mean, std
	}
	return featureStats(x, w)
}

// shardBytes is the length a shard of count samples must have.
func (m *Manifest) shardBytes(count int) int64 {
	c, w := int64(count), int64(m.Width)
	switch m.Layout {
	case LayoutWindow:
		return (c + w) * int64(m.TokenBytes)
	case LayoutXY:
		return c * 2 * w * 4
	default:
		return c * (w + 1) * 4
	}
}

// firstShard returns the index of split s's first shard.
func (m *Manifest) firstShard(s Split) int {
	if s == Val {
		return shardCount(m.Samples[Train], m.ShardSamples)
	}
	return 0
}

func shardCount(n, per int) int { return (n + per - 1) / per }

// Shard returns the index of the shard that holds sample i of split s; it
// panics if i is out of range.
func (m *Manifest) Shard(s Split, i int) int {
	checkIndex("manifest", s, i, m.Samples[s])
	return m.firstShard(s) + i/m.ShardSamples
}

// ShardsFor returns the sorted distinct indices of the shards that hold the
// given samples of split s (with LayoutWindow a sample never straddles two
// shards). It panics if an index is out of range.
func (m *Manifest) ShardsFor(s Split, indices []int) []int {
	out := make([]int, 0, min(len(indices), len(m.Shards)))
	for _, i := range indices {
		out = append(out, m.Shard(s, i))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Limits that keep a decoded manifest's sizes far from int overflow.
const (
	maxManifestWidth   = 1 << 24
	maxManifestSamples = 1 << 40
	maxShardBytes      = 1 << 40
)

// Validate checks that m is self-consistent: known layout and task, a
// decodable tokenizer for LM, and shards that cover each split exactly with
// the lengths their layout implies. Errors wrap ErrBadManifest.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
	}
	if m.Version != manifestVersion {
		return bad("version %d, want %d", m.Version, manifestVersion)
	}
	if m.Width < 1 || m.Width > maxManifestWidth {
		return bad("width %d is not in [1, %d]", m.Width, maxManifestWidth)
	}
	if m.Classes < 1 || m.Classes > 1<<21 {
		return bad("classes %d is out of range", m.Classes)
	}
	if m.ShardSamples < 1 || int64(m.ShardSamples) > maxShardBytes/(8*int64(m.Width)+8) {
		return bad("shard samples %d is out of range for width %d", m.ShardSamples, m.Width)
	}
	for _, s := range Splits {
		if m.Samples[s] < 0 || m.Samples[s] > maxManifestSamples {
			return bad("%s samples %d is out of range", s, m.Samples[s])
		}
	}
	switch {
	case m.Layout == LayoutRows && m.Task == Classify:
		if len(m.Tokenizer) != 0 || m.TokenBytes != 0 {
			return bad("classify manifest with a tokenizer")
		}
		if len(m.FeatureMean) != m.Width || len(m.FeatureStd) != m.Width {
			return bad("%d means and %d deviations for width %d", len(m.FeatureMean), len(m.FeatureStd), m.Width)
		}
		for j := range m.Width {
			if mu, sd := float64(m.FeatureMean[j]), float64(m.FeatureStd[j]); math.IsNaN(mu) || math.IsInf(mu, 0) || !(sd > 0) || math.IsInf(sd, 0) {
				return bad("feature %d statistics %v, %v", j, mu, sd)
			}
		}
	case (m.Layout == LayoutWindow || m.Layout == LayoutXY) && m.Task == LM:
		if m.FeatureMean != nil || m.FeatureStd != nil {
			return bad("LM manifest with feature statistics")
		}
		if m.Layout == LayoutWindow && m.TokenBytes != 4 && !(m.TokenBytes == 2 && m.Classes <= 1<<16) {
			return bad("token bytes %d for %d classes", m.TokenBytes, m.Classes)
		}
		if m.Layout == LayoutXY && m.TokenBytes != 0 {
			return bad("token bytes %d with layout xy", m.TokenBytes)
		}
		tok, err := UnmarshalTokenizer(m.Tokenizer)
		if err != nil {
			return bad("tokenizer: %v", err)
		}
		if tok.VocabSize() != m.Classes {
			return bad("tokenizer has %d ids, want classes %d", tok.VocabSize(), m.Classes)
		}
	default:
		return bad("layout %q with task %v", m.Layout, m.Task)
	}
	want := shardCount(m.Samples[Train], m.ShardSamples) + shardCount(m.Samples[Val], m.ShardSamples)
	if len(m.Shards) != want {
		return bad("%d shards, want %d", len(m.Shards), want)
	}
	for k, sh := range m.Shards {
		s := Train
		if k >= m.firstShard(Val) {
			s = Val
		}
		first := (k - m.firstShard(s)) * m.ShardSamples
		count := min(m.ShardSamples, m.Samples[s]-first)
		if sh.Index != k || sh.Split != s || sh.First != first || sh.Samples != count {
			return bad("shard %d: index %d, %s samples [%d, +%d); want %d, %s [%d, +%d)",
				k, sh.Index, sh.Split, sh.First, sh.Samples, k, s, first, count)
		}
		if b := m.shardBytes(count); sh.Bytes != b {
			return bad("shard %d: %d bytes, want %d", k, sh.Bytes, b)
		}
		if d, err := hex.DecodeString(sh.SHA256); err != nil || len(d) != sha256.Size {
			return bad("shard %d: sha256 %q is not 64 hex digits", k, sh.SHA256)
		}
	}
	return nil
}

// MarshalBinary encodes m as JSON.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return b, nil
}

// Digest returns the hex SHA-256 of m's encoding: equal manifests have
// equal digests.
func (m *Manifest) Digest() string {
	b, _ := m.MarshalBinary()
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// UnmarshalManifest decodes and validates a manifest written by
// MarshalBinary. Unknown fields, trailing data and inconsistent values are
// errors wrapping ErrBadManifest.
func UnmarshalManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrBadManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
