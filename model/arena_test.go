package model

import (
	"slices"
	"testing"
)

func TestArenaLayout(t *testing.T) {
	g, err := NewGPT(tinyGPT(true, 0))
	if err != nil {
		t.Fatal(err)
	}
	a := g.Arena()
	off := 0
	for _, ten := range a.Tensors {
		if ten.Offset != off {
			t.Errorf("%s.Offset = %d; want %d (contiguous, in order)", ten.Name, ten.Offset, off)
		}
		if want := len(ten.Shape) >= 2; ten.Decay != want {
			t.Errorf("%s.Decay = %v; want %v (2-D weights only)", ten.Name, ten.Decay, want)
		}
		off += ten.Size()
	}
	if off != len(a.Params) || len(a.Grads) != len(a.Params) {
		t.Errorf("arena holds %d params, %d grads; want %d each", len(a.Params), len(a.Grads), off)
	}
	for _, tc := range []struct {
		name  string
		shape []int
	}{
		{"transformer.wte.weight", []int{7, 8}},
		{"transformer.wpe.weight", []int{6, 8}},
		{"transformer.h.0.ln_1.weight", []int{8}},
		{"transformer.h.0.ln_1.bias", []int{8}},
		{"transformer.h.1.attn.c_attn.weight", []int{24, 8}},
		{"transformer.h.1.attn.c_attn.bias", []int{24}},
		{"transformer.h.1.attn.c_proj.weight", []int{8, 8}},
		{"transformer.h.0.mlp.c_fc.weight", []int{32, 8}},
		{"transformer.h.0.mlp.c_fc.bias", []int{32}},
		{"transformer.h.0.mlp.c_proj.weight", []int{8, 32}},
		{"transformer.ln_f.bias", []int{8}},
	} {
		ten, ok := a.Tensor(tc.name)
		if !ok || !slices.Equal(ten.Shape, tc.shape) {
			t.Errorf("Tensor(%s) = %v, %v; want shape %v", tc.name, ten.Shape, ok, tc.shape)
		}
	}
	if _, ok := a.Tensor("lm_head.weight"); ok {
		t.Errorf("Tensor(lm_head.weight) exists; want it tied to wte, not stored")
	}
	if p, g := a.Lookup("nope"); p != nil || g != nil {
		t.Errorf("Lookup(nope) = %v, %v; want nil, nil", p, g)
	}
}

func TestArenaDense(t *testing.T) {
	g, _ := NewGPT(tinyGPT(false, 0))
	a := g.Arena()
	d := a.Dense("transformer.h.0.attn.c_attn.weight")
	if got := []int(d.Shape()); !slices.Equal(got, []int{24, 8}) {
		t.Fatalf("Dense shape = %v; want [24 8]", got)
	}
	if err := d.SetAt(float32(42), 2, 3); err != nil {
		t.Fatal(err)
	}
	p, _ := a.Lookup("transformer.h.0.attn.c_attn.weight")
	if p[2*8+3] != 42 {
		t.Errorf("after Dense.SetAt(42, 2, 3) params[19] = %g; want 42 (a view, not a copy)", p[2*8+3])
	}
	a.Grads[0] = 5
	if v, _ := a.DenseGrad("transformer.wte.weight").At(0, 0); v != float32(5) {
		t.Errorf("DenseGrad(wte).At(0, 0) = %v; want 5", v)
	}
	a.ZeroGrad()
	if a.Grads[0] != 0 {
		t.Errorf("after ZeroGrad Grads[0] = %g; want 0", a.Grads[0])
	}
}
