package dataset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ShardFile is the name of a shard's file in a shard directory or cache:
// its hex SHA-256 and ".shard", so identical shards share a file.
func ShardFile(info ShardInfo) string { return info.SHA256 + ".shard" }

// PackDir is PackTo writing each shard to dir (created if missing) as
// ShardFile, for a coordinator that serves shards from disk with a
// DirFetcher. The directory can also serve as a ShardedConfig.CacheDir.
func PackDir(src Source, shardSamples int, dir string) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return PackTo(src, shardSamples, func(info ShardInfo, data []byte) error {
		return writeAtomic(filepath.Join(dir, ShardFile(info)), data)
	})
}

// DirFetcher is a ShardFetcher reading the shards of Manifest from Dir, as
// PackDir wrote them. It does not verify them (ShardedSource does).
type DirFetcher struct {
	Dir      string
	Manifest *Manifest
}

// Fetch reads shard index from the directory.
func (f DirFetcher) Fetch(ctx context.Context, index int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if index < 0 || index >= len(f.Manifest.Shards) {
		return nil, fmt.Errorf("fetch shard %d: out of range [0, %d)", index, len(f.Manifest.Shards))
	}
	b, err := os.ReadFile(filepath.Join(f.Dir, ShardFile(f.Manifest.Shards[index])))
	if err != nil {
		return nil, fmt.Errorf("fetch shard %d: %w", index, err)
	}
	return b, nil
}

// SamplesPerShard returns the shard size, in samples, that makes the
// shards of src about targetBytes long (at least one sample), for Pack.
// Keep shards well under a transport's message limit (gRPC's default is
// 4 MiB) or stream them in pieces.
func SamplesPerShard(src Source, targetBytes int) int {
	w := src.Width()
	per := 8 * w // LayoutXY
	switch _, windowed := src.(interface{ Tokens(Split) []int32 }); {
	case src.Task() == Classify:
		per = 4 * (w + 1)
	case windowed:
		per = 4
		if src.Classes() <= 1<<16 {
			per = 2
		}
		targetBytes -= per * w // the overlap
	}
	return max(1, targetBytes/per)
}
