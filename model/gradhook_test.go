package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGPTGradHook checks that the hook's parts cover the arena once, from
// its end to its start, that each part is final when the hook reports it,
// and that the hook does not change the gradient.
func TestGPTGradHook(t *testing.T) {
	for _, tc := range []struct {
		layers  int
		bias    bool
		dropout float32
	}{
		{1, false, 0}, {2, true, 0}, {3, false, 0.1}, {3, true, 0.1},
	} {
		t.Run(fmt.Sprintf("layers=%d,bias=%v,dropout=%v", tc.layers, tc.bias, tc.dropout), func(t *testing.T) {
			cfg := tinyGPT(tc.bias, tc.dropout)
			cfg.NLayer = tc.layers
			run := func(hook bool) (grads []float32, parts [][2]int, snaps [][]float32) {
				g, err := NewGPT(cfg)
				if err != nil {
					t.Fatal(err)
				}
				a := g.Arena()
				if hook {
					g.SetGradHook(func(lo, hi int) {
						parts = append(parts, [2]int{lo, hi})
						snaps = append(snaps, slices.Clone(a.Grads[lo:hi]))
					})
				}
				rng := rand.New(rand.NewPCG(3, 3))
				a.ZeroGrad()
				b := randomBatch(rng, 3, 6, 7, true)
				_, n := g.Forward(b, true)
				g.Backward(1 / float32(n))
				return slices.Clone(a.Grads), parts, snaps
			}
			want, _, _ := run(false)
			got, parts, snaps := run(true)
			if !slices.Equal(got, want) {
				t.Errorf("gradient with the hook differs from the gradient without it")
			}
			if len(parts) != tc.layers+1 {
				t.Fatalf("hook calls = %d; want %d (one per block, one for the embeddings)", len(parts), tc.layers+1)
			}
			end := len(got)
			for i, p := range parts {
				if p[1] != end || p[0] >= p[1] {
					t.Errorf("part %d = [%d,%d); want [lo,%d) with lo < %d", i, p[0], p[1], end, end)
				}
				if !slices.Equal(snaps[i], got[p[0]:p[1]]) {
					t.Errorf("part %d [%d,%d) changed after the hook reported it final", i, p[0], p[1])
				}
				end = p[0]
			}
			if end != 0 {
				t.Errorf("parts end at %d; want 0 (the whole arena)", end)
			}
		})
	}
}

// TestGPTGradHookRemoved checks that SetGradHook(nil) stops the calls.
func TestGPTGradHookRemoved(t *testing.T) {
	g, err := NewGPT(tinyGPT(false, 0))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	g.SetGradHook(func(lo, hi int) { calls++ })
	g.SetGradHook(nil)
	b := randomBatch(rand.New(rand.NewPCG(4, 4)), 2, 6, 7, false)
	g.Forward(b, true)
	g.Backward(1)
	if calls != 0 {
		t.Errorf("hook calls after SetGradHook(nil) = %d; want 0", calls)
	}
}
