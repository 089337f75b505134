package model

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Tensor names one parameter tensor of an Arena: Params[Offset:Offset+Size()]
// holds its values in row-major order with the given Shape, and Grads the
// same range holds its gradient.
type Tensor struct {
	Name   string // nanoGPT state_dict name, e.g. "transformer.h.0.attn.c_attn.weight"
	Shape  []int  // PyTorch shape: a Linear weight is (out, in)
	Offset int    // first element in Arena.Params and Arena.Grads
	Decay  bool   // AdamW weight decay applies (the 2-D weights, as nanoGPT groups them)
}

// Size returns the number of elements of t.
func (t Tensor) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Arena holds all parameters of a model in one slice and all gradients in
// another with the same layout, named by Tensors (in state_dict order,
// contiguous, without padding). The model computes through views of Params
// and Grads: write them in place (copy, an optimizer step), never assign
// new slices to the fields.
type Arena struct {
	Params, Grads []float32
	Tensors       []Tensor
	index         map[string]int
}

// newArena lays out tensors contiguously in the order given.
func newArena(specs []Tensor) *Arena {
	a := &Arena{index: make(map[string]int, len(specs))}
	off := 0
	for _, s := range specs {
		if _, dup := a.index[s.Name]; dup {
			panic("model: duplicate tensor " + s.Name)
		}
		s.Offset = off
		s.Decay = len(s.Shape) >= 2
		a.index[s.Name] = len(a.Tensors)
		a.Tensors = append(a.Tensors, s)
		off += s.Size()
	}
	a.Params = make([]float32, off)
	a.Grads = make([]float32, off)
	return a
}

// Tensor returns the tensor called name and whether it exists.
func (a *Arena) Tensor(name string) (Tensor, bool) {
	i, ok := a.index[name]
	if !ok {
		return Tensor{}, false
	}
	return a.Tensors[i], true
}

// Lookup returns the parameters and gradients of the tensor called name, as
// sub-slices of Params and Grads (capacity capped at the tensor's end). It
// returns nil slices if there is no such tensor.
func (a *Arena) Lookup(name string) (params, grads []float32) {
	t, ok := a.Tensor(name)
	if !ok {
		return nil, nil
	}
	lo, hi := t.Offset, t.Offset+t.Size()
	return a.Params[lo:hi:hi], a.Grads[lo:hi:hi]
}

// mustLookup is Lookup for names the model itself created.
func (a *Arena) mustLookup(name string) (params, grads []float32) {
	p, g := a.Lookup(name)
	if p == nil {
		panic("model: no tensor " + name)
	}
	return p, g
}

// ZeroGrad sets every gradient to zero.
func (a *Arena) ZeroGrad() { clear(a.Grads) }

// Dense returns a gorgonia.org/tensor view over the parameters of the tensor
// called name, with its shape: writes through the view change the model. It
// panics if there is no such tensor.
func (a *Arena) Dense(name string) *tensor.Dense {
	t, ok := a.Tensor(name)
	if !ok {
		panic(fmt.Sprintf("model: Dense: no tensor %q", name))
	}
	p, _ := a.Lookup(name)
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(p))
}

// DenseGrad is Dense over the gradients.
func (a *Arena) DenseGrad(name string) *tensor.Dense {
	t, ok := a.Tensor(name)
	if !ok {
		panic(fmt.Sprintf("model: DenseGrad: no tensor %q", name))
	}
	_, g := a.Lookup(name)
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(g))
}

// NumParams returns the number of parameters.
func (a *Arena) NumParams() int { return len(a.Params) }
