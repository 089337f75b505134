package gemm_test

import (
	"fmt"

	"github.com/craftml/craft/model/gemm"
)

// A linear layer's forward pass, out = in·Wᵀ, with W stored (out, in) as
// PyTorch stores it.
func ExampleSgemm() {
	in := []float32{ // (2, 3): two rows of three features
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // (2, 3): two outputs of three inputs
		1, 0, 1,
		0, 1, 0,
	}
	out := make([]float32, 2*2)
	gemm.Sgemm(false, true, 2, 2, 3, 1, in, 3, w, 3, 0, out, 2)
	fmt.Println(out)
	// Output: [4 2 10 5]
}
