package model_test

import (
	"fmt"

	"github.com/craftml/craft/model"
)

// A few steps of plain SGD on one batch of a tiny GPT: the loss falls.
func ExampleNewGPT() {
	g, err := model.NewGPT(model.GPTConfig{VocabSize: 8, BlockSize: 4, NLayer: 1, NHead: 2, NEmbd: 16, MaxBatch: 2, Seed: 1})
	if err != nil {
		panic(err)
	}
	b := &model.Batch{B: 2, T: 4,
		Tokens:  []int32{1, 2, 3, 4, 5, 6, 7, 0},
		Targets: []int32{2, 3, 4, 5, 6, 7, 0, -1}, // the last position is ignored
	}
	a := g.Arena()
	var first, last float64
	for step := range 50 {
		a.ZeroGrad()
		loss, n := g.Forward(b, true)
		g.Backward(1 / float32(n)) // the gradient of the mean loss
		for i := range a.Params {
			a.Params[i] -= 0.5 * a.Grads[i]
		}
		if step == 0 {
			first = loss / float64(n)
		}
		last = loss / float64(n)
	}
	fmt.Println(len(a.Tensors), "tensors,", a.NumParams(), "parameters")
	fmt.Println("loss fell:", last < first/4)
	// Output:
	// 9 tensors, 3312 parameters
	// loss fell: true
}
