// Package model holds the networks Craft trains: a GPT built exactly as
// nanoGPT builds it and an MLP classifier, each with a hand-written backward
// pass, over one contiguous parameter arena.
//
// # Arena
//
// All parameters of a model live in one []float32 (Arena.Params) and all
// gradients in another of the same layout (Arena.Grads), so the all-reduce
// and the optimizer each walk a single slice. Arena.Tensors names the
// sub-slices with nanoGPT's state_dict names and PyTorch shapes (a Linear
// weight is (out, in) and y = x·Wᵀ + b); Arena.Dense gives a
// gorgonia.org/tensor view over one of them, and WriteSafetensors /
// ReadSafetensors exchange the arena with PyTorch.
//
// # Layers
//
// Each layer is one file holding a forward and a backward function in llm.c
// style: output arguments first, shapes beside the slices, the forward
// caches what the backward needs, and the backward ADDS into the parameter
// gradients (callers clear them with Arena.ZeroGrad, or accumulate over
// micro-batches). Activation gradients are added to as well, except where a
// "Set" variant lets the first writer of a buffer overwrite it, which saves
// clearing it. Every matrix multiply goes
// through gemm.Sgemm. Row loops run on a small persistent pool whose work
// partition never changes a result: every output element is computed by the
// same sequence of float32 operations whatever the thread count, and
// reductions over rows (bias and LayerNorm gradients, embedding scatter) are
// split by columns, never by rows.
//
// # Speed
//
// The elementwise and row kernels (GELU, LayerNorm, the causal softmax and
// its backward, exp, dropout masks, the KV-cache matrix-vector product) have
// AVX2+FMA assembly versions (simd_amd64.s, chosen at start-up by CPUID)
// beside the plain Go versions they are tested against; other CPUs run the
// Go versions. Activations are allocated once at construction, so a
// steady-state Forward+Backward allocates nothing. Without dropout the
// residual projections add straight into the residual stream inside gemm.
//
// # Determinism
//
// The same Seed gives bitwise the same parameters; the same parameters,
// batches (with their Seeds) and thread count give bitwise the same losses
// and gradients. Across thread counts results are bitwise equal too: the
// pool splits elementwise loops at multiples of the SIMD width, reductions
// over rows run per column, attention per (batch, head), and gemm splits its
// outputs, never a sum (TestGPTThreadsBitwise checks 1 against 2 threads on
// shapes where gemm splits its multiplies).
//
// # Usage
//
//	g, err := model.NewGPT(model.GPTConfig{VocabSize: 65, BlockSize: 64, NLayer: 4,
//		NHead: 4, NEmbd: 128, MaxBatch: 12, Seed: 1337})
//	a := g.Arena()
//	a.ZeroGrad()
//	loss, n := g.Forward(&batch, true)
//	g.Backward(1 / float32(n)) // gradients of the mean loss
//	// ... all-reduce a.Grads, optimizer step over a.Params
//
// # Caveats
//
// A model is not safe for concurrent use: Forward, Backward, Predict and
// Generate share the activation buffers allocated at construction for
// MaxBatch×BlockSize positions. Shape mismatches (a batch larger than
// MaxBatch, a token out of range) are caller bugs and panic with a "model:"
// prefix. SetThreads is process-wide; the pool starts with 1 thread (gemm
// with GOMAXPROCS) until it is called.
package model
