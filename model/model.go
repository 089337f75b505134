package model

import "errors"

// ErrConfig reports an invalid model configuration; the wrapped message
// names the field.
var ErrConfig = errors.New("model: invalid config")

// Batch is one batch of examples for a Model.
type Batch struct {
	B, T     int       // rows; positions per row (T = 1 for the MLP)
	Tokens   []int32   // (B,T) GPT inputs
	Features []float32 // (B,F) MLP inputs
	Targets  []int32   // (B,T) GPT, (B) MLP; -1 = ignored by the loss
	Seeds    []uint64  // (B) dropout seed per row; dropout of row b draws from an RNG seeded by Seeds[b]
}

// Model is a network with a hand-written backward over an Arena.
type Model interface {
	// Arena returns the model's parameters and gradients.
	Arena() *Arena
	// Forward returns the SUM of cross-entropy over non-ignored targets and
	// their count; train enables dropout.
	Forward(b *Batch, train bool) (lossSum float64, count int)
	// Backward adds scale * d(lossSum)/d(params) of the last Forward into
	// Arena().Grads.
	Backward(scale float32)
	// Predict writes the argmax of each position of the last Forward into
	// dst (len B*T).
	Predict(dst []int32)
}

var (
	_ Model = (*GPT)(nil)
	_ Model = (*MLP)(nil)
)
