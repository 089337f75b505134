package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// MLPConfig sizes an MLP classifier.
type MLPConfig struct {
	Inputs   int    // features per example
	Hidden   []int  // widths of the hidden layers, each followed by ReLU; may be empty
	Classes  int    // output classes
	MaxBatch int    // most rows per Forward
	Seed     uint64 // initialisation seed
}

// DefaultMLPConfig returns a small classifier: 4 inputs, one hidden layer
// of 32, 3 classes, batches of up to 64.
func DefaultMLPConfig() MLPConfig {
	return MLPConfig{Inputs: 4, Hidden: []int{32}, Classes: 3, MaxBatch: 64, Seed: 1337}
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c MLPConfig) Validate() error {
	switch {
	case c.Inputs < 1:
		return fmt.Errorf("%w: Inputs %d < 1", ErrConfig, c.Inputs)
	case c.Classes < 2:
		return fmt.Errorf("%w: Classes %d < 2", ErrConfig, c.Classes)
	case c.MaxBatch < 1:
		return fmt.Errorf("%w: MaxBatch %d < 1", ErrConfig, c.MaxBatch)
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("%w: Hidden[%d] %d < 1", ErrConfig, i, h)
		}
	}
	return nil
}

// MLP is a classifier Linear → ReLU → … → Linear with a softmax
// cross-entropy loss. Its tensors are layers.{i}.weight (out, in) and
// layers.{i}.bias (out) for the i-th Linear (i counts Linears only, not
// the ReLUs).
type MLP struct {
	cfg   MLPConfig
	arena *Arena
	k     kern

	w, bias, dw, dbias [][]float32 // per Linear
	in, out            []int       // per Linear: widths

	feats   []float32   // (B,F)
	act     [][]float32 // per Linear: its output (B,out); after ReLU for hidden layers
	dact    [][]float32 // per Linear: gradient of its output
	targets []int32
	probs   []float32
	losses  []float64
	b       int
}

// NewMLP builds an MLP initialised like PyTorch's nn.Linear default
// (kaiming_uniform with a=√5): weights and biases uniform in
// ±1/√fan_in, drawn from a math/rand/v2 PCG seeded with cfg.Seed in arena
// order.
func NewMLP(cfg MLPConfig) (*MLP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &MLP{cfg: cfg}
	widths := append(append([]int{cfg.Inputs}, cfg.Hidden...), cfg.Classes)
	var ts []Tensor
	for i := 0; i+1 < len(widths); i++ {
		p := "layers." + strconv.Itoa(i)
		ts = append(ts, Tensor{Name: p + ".weight", Shape: []int{widths[i+1], widths[i]}},
			Tensor{Name: p + ".bias", Shape: []int{widths[i+1]}})
		m.in = append(m.in, widths[i])
		m.out = append(m.out, widths[i+1])
	}
	m.arena = newArena(ts)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d6c70)) // "mlp"
	for i := range m.in {
		p := "layers." + strconv.Itoa(i)
		w, dw := m.arena.mustLookup(p + ".weight")
		b, db := m.arena.mustLookup(p + ".bias")
		bound := 1 / math.Sqrt(float64(m.in[i]))
		for j := range w {
			w[j] = float32((2*rng.Float64() - 1) * bound)
		}
		for j := range b {
			b[j] = float32((2*rng.Float64() - 1) * bound)
		}
		m.w, m.dw = append(m.w, w), append(m.dw, dw)
		m.bias, m.dbias = append(m.bias, b), append(m.dbias, db)
		m.act = append(m.act, make([]float32, cfg.MaxBatch*m.out[i]))
		m.dact = append(m.dact, make([]float32, cfg.MaxBatch*m.out[i]))
	}
	m.feats = make([]float32, cfg.MaxBatch*cfg.Inputs)
	m.targets = make([]int32, cfg.MaxBatch)
	m.probs = make([]float32, cfg.MaxBatch*padRow(cfg.Classes))
	m.losses = make([]float64, cfg.MaxBatch)
	return m, nil
}

// Config returns the configuration m was built with.
func (m *MLP) Config() MLPConfig { return m.cfg }

// Arena returns m's parameters and gradients.
func (m *MLP) Arena() *Arena { return m.arena }

// Forward classifies b.B rows of b.Features (T must be 1) and returns the
// sum of the cross-entropy over the targets that are not -1 and their
// count. The MLP has no dropout; train is ignored.
func (m *MLP) Forward(b *Batch, train bool) (lossSum float64, count int) {
	B, F := b.B, m.cfg.Inputs
	if B < 1 || B > m.cfg.MaxBatch || (b.T != 1 && b.T != 0) || len(b.Features) != B*F || len(b.Targets) != B {
		panic(fmt.Sprintf("model: MLP.Forward: batch %dx%d with %d features, %d targets does not fit MaxBatch %d, Inputs %d",
			B, b.T, len(b.Features), len(b.Targets), m.cfg.MaxBatch, F))
	}
	m.b = B
	copy(m.feats, b.Features)
	copy(m.targets, b.Targets)
	x := m.feats[:B*F]
	last := len(m.w) - 1
	for i := range m.w {
		out := m.act[i][:B*m.out[i]]
		linearForward(out, x, m.w[i], m.bias[i], B, m.in[i], m.out[i])
		if i < last {
			reluForward(out, out)
		}
		x = out
	}
	return m.k.crossEntropy(m.probs, m.losses, x, m.targets, B, m.cfg.Classes)
}

// Backward adds scale·d(lossSum)/d(params) of the last Forward to the
// arena's gradients.
func (m *MLP) Backward(scale float32) {
	B := m.b
	if B == 0 {
		panic("model: MLP.Backward before Forward")
	}
	last := len(m.w) - 1
	d := m.dact[last][:B*m.cfg.Classes]
	m.k.crossEntropyBackward(d, m.probs, m.targets, scale, B, m.cfg.Classes, true)
	for i := last; i >= 0; i-- {
		x := m.feats[:B*m.cfg.Inputs]
		var dx []float32
		if i > 0 {
			x = m.act[i-1][:B*m.in[i]]
			dx = m.dact[i-1][:B*m.in[i]]
		}
		m.k.linearBackwardSet(dx, m.dw[i], m.dbias[i], m.dact[i][:B*m.out[i]], x, m.w[i], B, m.in[i], m.out[i])
		if i > 0 {
			// the ReLU in place: zero the gradient where the output was not positive
			for j, v := range x {
				if v <= 0 {
					dx[j] = 0
				}
			}
		}
	}
}

// Predict writes the most likely class of each row of the last Forward
// into dst (len B).
func (m *MLP) Predict(dst []int32) {
	argmaxRows(dst, m.act[len(m.act)-1], m.b, m.cfg.Classes)
}
