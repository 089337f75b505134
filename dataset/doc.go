// Package dataset feeds training: it builds the samples, the tokenizers
// that make them, the order they are used in, and the checksummed shards
// that carry them to workers.
//
// # Sources
//
// A Source is a dataset already split into Train and Val and read by
// sample index. Open builds one of three from a Config:
//
//   - "addition" (Addition): minGPT's adder, n-digit sums written
//     "12+35=740" with the sum reversed, the loss on the answer digits only;
//     Val problems are never in Train.
//   - "text" (Text): a UTF-8 file tokenized by a char or byte-level BPE
//     tokenizer; the first (1-ValFraction) of the tokens are Train; sample
//     i is the window tokens[i:i+T+1].
//   - "csv" (CSV): numeric features then an integer label per row; the
//     features are kept raw and FeatureStats gives their Train mean and
//     standard deviation.
//
// # Tokenizers
//
// Char maps each rune of a vocabulary to an id (for a corpus, its sorted
// distinct runes, as nanoGPT does; for addition the fixed AdditionVocab).
// BPE is a byte-level BPE trained by TrainBPE; Decode(Encode(s)) == s for
// any bytes. Both encode to bytes with a kind tag and a version
// (MarshalBinary, UnmarshalTokenizer), so a checkpoint carries the
// tokenizer its model was trained with.
//
// # Order
//
// A Sampler turns a step number into the sample indices of that step's
// global batch: one seeded permutation per epoch, every sample exactly
// once per epoch, the same order whatever the number of ranks. Share cuts
// a global batch into per-rank parts. The cursor to save is the step.
//
// # Shards
//
// For a distributed run the coordinator builds the Source once and Packs
// it into fixed-size shards listed, with their SHA-256, in a Manifest.
// Workers build a ShardedSource over the manifest and a ShardFetcher;
// it fetches only the shards that hold the samples asked for, verifies
// them, caches them on disk and serves exactly the samples of the original
// Source.
//
// The package uses the standard library only and does no networking: the
// ShardFetcher is the caller's.
package dataset
