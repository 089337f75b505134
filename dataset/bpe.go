package dataset

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// maxBPEVocab bounds a BPE vocabulary, so ids fit in uint16 shards.
	maxBPEVocab = 1 << 16
	// maxChunk bounds the bytes of one pre-tokenized chunk; longer runs are
	// cut, which keeps encoding linear in the input.
	maxChunk = 64
)

// BPE is a byte-level byte-pair-encoding tokenizer. Ids 0-255 are the bytes;
// id 256+i is merge i, the concatenation of its two parts. Text is first
// cut into chunks (see chunkEnd) that merges never cross, then each chunk is
// encoded by applying merges in rank order, as GPT-2 does.
//
// Encode accepts any bytes, including invalid UTF-8, and Decode returns
// exactly those bytes: Decode(Encode(s)) == s for every string s.
type BPE struct {
	merges [][2]int32       // merge i makes id 256+i
	ranks  map[uint64]int32 // pairKey(a, b) -> merge index
	vocab  [][]byte         // id -> bytes
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(merges [][2]int32) (*BPE, error) {
	t := &BPE{merges: merges, ranks: make(map[uint64]int32, len(merges)), vocab: make([][]byte, 256+len(merges))}
	for i := range 256 {
		t.vocab[i] = []byte{byte(i)}
	}
	for i, m := range merges {
		id := int32(256 + i)
		if m[0] < 0 || m[0] >= id || m[1] < 0 || m[1] >= id {
			return nil, fmt.Errorf("merge %d: parts (%d, %d) not below id %d", i, m[0], m[1], id)
		}
		k := pairKey(m[0], m[1])
		if _, dup := t.ranks[k]; dup {
			return nil, fmt.Errorf("merge %d: pair (%d, %d) repeats", i, m[0], m[1])
		}
		t.ranks[k] = int32(i)
		v := make([]byte, 0, len(t.vocab[m[0]])+len(t.vocab[m[1]]))
		t.vocab[id] = append(append(v, t.vocab[m[0]]...), t.vocab[m[1]]...)
	}
	return t, nil
}

// Kind returns "bpe".
func (t *BPE) Kind() string { return "bpe" }

// VocabSize is 256 plus the number of merges.
func (t *BPE) VocabSize() int { return len(t.vocab) }

// Token returns the bytes of id; it panics if id is out of range.
func (t *BPE) Token(id int32) []byte { return t.vocab[id] }

// Encode returns the ids of s.
func (t *BPE) Encode(s string) []int32 {
	ids := make([]int32, 0, len(s)/3+1)
	cache := map[string][]int32{}
	var syms []int32
	for i := 0; i < len(s); {
		j := chunkEnd(s, i)
		c := s[i:j]
		i = j
		if len(c) == 1 {
			ids = append(ids, int32(c[0]))
			continue
		}
		if e, ok := cache[c]; ok {
			ids = append(ids, e...)
			continue
		}
		syms = t.encodeChunk(syms[:0], c)
		cache[c] = append([]int32(nil), syms...)
		ids = append(ids, syms...)
	}
	return ids
}

// encodeChunk appends to syms the ids of one chunk: start from its bytes,
// then repeatedly merge every occurrence of the adjacent pair of lowest rank.
func (t *BPE) encodeChunk(syms []int32, c string) []int32 {
	for k := 0; k < len(c); k++ {
		syms = append(syms, int32(c[k]))
	}
	for len(syms) > 1 {
		best := int32(-1)
		for k := 0; k+1 < len(syms); k++ {
			if r, ok := t.ranks[pairKey(syms[k], syms[k+1])]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			break
		}
		syms = mergePair(syms, t.merges[best][0], t.merges[best][1], 256+best)
	}
	return syms
}

// mergePair replaces, left to right, each occurrence of (a, b) in syms by id.
func mergePair(syms []int32, a, b, id int32) []int32 {
	w := 0
	for r := 0; r < len(syms); r++ {
		if r+1 < len(syms) && syms[r] == a && syms[r+1] == b {
			syms[w] = id
			r++
		} else {
			syms[w] = syms[r]
		}
		w++
	}
	return syms[:w]
}

// Decode returns the bytes of ids as a string, which may be invalid UTF-8
// when ids cut a multi-byte rune. An id out of range decodes to U+FFFD.
func (t *BPE) Decode(ids []int32) string {
	var b strings.Builder
	n := 0
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.vocab) {
			n += len(t.vocab[id])
		}
	}
	b.Grow(n)
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.vocab) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.Write(t.vocab[id])
	}
	return b.String()
}

// MarshalBinary encodes the tokenizer: after the common header, the number
// of merges, then the two parts of each, as uvarints.
func (t *BPE) MarshalBinary() ([]byte, error) {
	b := appendTokHeader(nil, t.Kind())
	b = binary.AppendUvarint(b, uint64(len(t.merges)))
	for _, m := range t.merges {
		b = binary.AppendUvarint(b, uint64(m[0]))
		b = binary.AppendUvarint(b, uint64(m[1]))
	}
	return b, nil
}

func unmarshalBPE(r *reader) (*BPE, error) {
	n := r.uvarint(maxBPEVocab - 256)
	if r.err != nil {
		return nil, r.err
	}
	if n > uint64(len(r.b))/2 { // each merge takes at least two bytes
		return nil, errShort
	}
	merges := make([][2]int32, n)
	for i := range merges {
		merges[i][0] = int32(r.uvarint(maxBPEVocab))
		merges[i][1] = int32(r.uvarint(maxBPEVocab))
		if r.err != nil {
			return nil, r.err
		}
	}
	return newBPE(merges)
}

// Chunking. A chunk is, as in GPT-2's pre-tokenizer but on bytes:
// an optional single space then a run of letters (ASCII letters and every
// byte >= 0x80, so multi-byte runes stay whole), of digits, or of other
// non-space bytes; or a run of whitespace, less its last space when a
// non-space follows (that space starts the next chunk). Chunks are cut at
// maxChunk bytes.
const (
	clSpace = iota
	clLetter
	clDigit
	clOther
)

var byteClass = func() (c [256]uint8) {
	for i := range c {
		switch b := byte(i); {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f':
			c[i] = clSpace
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80:
			c[i] = clLetter
		case b >= '0' && b <= '9':
			c[i] = clDigit
		default:
			c[i] = clOther
		}
	}
	return c
}()

// chunkEnd returns the end of the chunk of s that starts at i < len(s).
func chunkEnd[S ~string | ~[]byte](s S, i int) int {
	n := len(s)
	c := byteClass[s[i]]
	j := i + 1
	if s[i] == ' ' && j < n && byteClass[s[j]] != clSpace {
		c = byteClass[s[j]]
		j++
	}
	for j < n && byteClass[s[j]] == c {
		j++
	}
	if c == clSpace && j < n && j-i > 1 && s[j-1] == ' ' {
		j--
	}
	return min(j, i+maxChunk)
}

// TrainBPE learns merges on data until the vocabulary has vocabSize ids
// (or no pair is left to merge). It counts the pairs of each distinct
// chunk once, weighted by the chunk's frequency, and after each merge
// updates only the counts of the chunks that held the merged pair. Ties
// between pairs of equal count go to the smaller (left, right) ids, so the
// result depends on data and vocabSize alone.
func TrainBPE(data []byte, vocabSize int) (*BPE, error) {
	if vocabSize < 256 || vocabSize > maxBPEVocab {
		return nil, fmt.Errorf("%w: BPE vocabulary size %d is not in [256, %d]", ErrConfig, vocabSize, maxBPEVocab)
	}
	// Distinct chunks and their counts.
	type word struct {
		syms  []int32
		count int64
	}
	var words []word
	index := map[string]int32{}
	for i := 0; i < len(data); {
		j := chunkEnd(data, i)
		c := data[i:j]
		i = j
		if len(c) < 2 {
			continue // no pairs
		}
		if w, ok := index[string(c)]; ok {
			words[w].count++
			continue
		}
		index[string(c)] = int32(len(words))
		syms := make([]int32, len(c))
		for k, b := range c {
			syms[k] = int32(b)
		}
		words = append(words, word{syms: syms, count: 1})
	}
	index = nil

	counts := map[uint64]int64{}
	where := map[uint64][]int32{}
	for w, wd := range words {
		for k := 0; k+1 < len(wd.syms); k++ {
			p := pairKey(wd.syms[k], wd.syms[k+1])
			counts[p] += wd.count
			where[p] = append(where[p], int32(w))
		}
	}
	h := make(pairHeap, 0, len(counts))
	for p, c := range counts {
		h = append(h, pairCount{p, c})
	}
	heap.Init(&h)

	merges := make([][2]int32, 0, vocabSize-256)
	delta := map[uint64]int64{}
	stamp := make([]int32, len(words)) // the merge that last visited a word, plus one
	for len(merges) < vocabSize-256 && h.Len() > 0 {
		top := heap.Pop(&h).(pairCount)
		if counts[top.pair] != top.count || top.count <= 0 {
			continue // stale entry
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		id := int32(256 + len(merges))
		merges = append(merges, [2]int32{a, b})
		for _, w := range where[top.pair] {
			if stamp[w] == id {
				continue
			}
			stamp[w] = id
			wd := &words[w]
			for k := 0; k+1 < len(wd.syms); k++ {
				delta[pairKey(wd.syms[k], wd.syms[k+1])] -= wd.count
			}
			wd.syms = mergePair(wd.syms, a, b, id)
			for k := 0; k+1 < len(wd.syms); k++ {
				l, r := wd.syms[k], wd.syms[k+1]
				p := pairKey(l, r)
				delta[p] += wd.count
				if l == id || r == id {
					where[p] = append(where[p], w)
				}
			}
		}
		delete(where, top.pair)
		for p, d := range delta {
			if d == 0 {
				continue
			}
			c := counts[p] + d
			if c <= 0 {
				delete(counts, p)
				continue
			}
			counts[p] = c
			heap.Push(&h, pairCount{p, c})
		}
		clear(delta)
	}
	return newBPE(merges)
}

type pairCount struct {
	pair  uint64
	count int64
}

// pairHeap pops the highest count first, then the smallest pair.
type pairHeap []pairCount

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].pair < h[j].pair
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
