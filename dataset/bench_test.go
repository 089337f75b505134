package dataset

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkTrainBPE trains on Tiny Shakespeare (1.1 MB) to 512 and 1024 ids.
func BenchmarkTrainBPE(b *testing.B) {
	data := readShared(b, "tinyshakespeare.txt")
	for _, vocab := range []int{512, 1024} {
		b.Run(fmt.Sprint("vocab=", vocab), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := TrainBPE(data, vocab); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBPEEncode encodes Tiny Shakespeare with a 1024-id BPE.
func BenchmarkBPEEncode(b *testing.B) {
	data := readShared(b, "tinyshakespeare.txt")
	bpe, err := TrainBPE(data, 1024)
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		bpe.Encode(s)
	}
}

// BenchmarkSample reads one 64-token text sample directly and through a
// ShardedSource.
func BenchmarkSample(b *testing.B) {
	corpus := make([]int32, 1<<16)
	for i := range corpus {
		corpus[i] = int32(i % 65)
	}
	tok := NewChar(string(AdditionVocab + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?.,:;'\" "))
	src, err := NewText(corpus, tok, 64, 0.1)
	if err != nil {
		b.Fatal(err)
	}
	m, shards, err := Pack(src, 4096)
	if err != nil {
		b.Fatal(err)
	}
	sh, err := NewShardedSource(m, MemFetcher(shards), ShardedConfig{})
	if err != nil {
		b.Fatal(err)
	}
	if err := sh.LoadAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	x, y := make([]int32, 64), make([]int32, 64)
	for name, s := range map[string]Source{"text": src, "sharded": sh} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Sample(Train, i%src.Len(Train), x, y, nil)
			}
		})
	}
}
