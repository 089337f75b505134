package dataset

import (
	"fmt"
	"slices"
	"testing"
)

func TestShare(t *testing.T) {
	tests := []struct {
		batch, ranks int
		want         [][2]int // offset, n per rank
	}{
		{12, 1, [][2]int{{0, 12}}},
		{12, 2, [][2]int{{0, 6}, {6, 6}}},
		{12, 5, [][2]int{{0, 3}, {3, 3}, {6, 2}, {8, 2}, {10, 2}}},
		{2, 3, [][2]int{{0, 1}, {1, 1}, {2, 0}}},
		{0, 2, [][2]int{{0, 0}, {0, 0}}},
	}
	for _, tt := range tests {
		for r, w := range tt.want {
			if off, n := Share(tt.batch, tt.ranks, r); off != w[0] || n != w[1] {
				t.Errorf("Share(%d, %d, %d) = %d, %d; want %d, %d", tt.batch, tt.ranks, r, off, n, w[0], w[1])
			}
		}
	}
	// Sizes differ by at most one and tile the batch.
	for batch := range 40 {
		for ranks := 1; ranks <= 9; ranks++ {
			next, lo, hi := 0, batch, 0
			for r := range ranks {
				off, n := Share(batch, ranks, r)
				if off != next {
					t.Fatalf("Share(%d, %d, %d) offset = %d; want %d", batch, ranks, r, off, next)
				}
				next += n
				lo, hi = min(lo, n), max(hi, n)
			}
			if next != batch || hi-lo > 1 {
				t.Fatalf("Share(%d, %d, ·) sums to %d with sizes in [%d, %d]; want %d, spread <= 1", batch, ranks, next, lo, hi, batch)
			}
		}
	}
}

// TestSamplerEpochs checks, over the shares of every rank, that each epoch
// uses every index exactly once and that the order does not depend on the
// number of ranks.
func TestSamplerEpochs(t *testing.T) {
	tests := []struct{ n, batch int }{
		{10, 3}, {10, 10}, {7, 12}, {100, 12}, {1, 1}, {1, 4}, {97, 96}, {1000, 64},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,batch=%d", tt.n, tt.batch), func(t *testing.T) {
			const epochs = 3
			steps := (epochs*tt.n + tt.batch - 1) / tt.batch
			var ref []int
			for _, ranks := range []int{1, 2, 3, 5} {
				s := NewSampler(11, tt.n, tt.batch)
				var stream []int
				buf := make([]int, tt.batch)
				for step := range steps {
					for r := range ranks {
						off, n := Share(tt.batch, ranks, r)
						s.Range(step, off, buf[:n])
						stream = append(stream, buf[:n]...)
					}
				}
				for e := range epochs {
					got := slices.Sorted(slices.Values(stream[e*tt.n : (e+1)*tt.n]))
					for i, v := range got {
						if v != i {
							t.Fatalf("ranks=%d: epoch %d holds %v; want every index of [0,%d) once", ranks, e, got, tt.n)
						}
					}
				}
				if ref == nil {
					ref = stream
				} else if !slices.Equal(stream, ref) {
					t.Fatalf("ranks=%d: the sample order differs from 1 rank's", ranks)
				}
			}
			// Batch agrees with the stream, and Epoch with the position.
			s := NewSampler(11, tt.n, tt.batch)
			b := make([]int, tt.batch)
			for step := range steps {
				s.Batch(step, b)
				if !slices.Equal(b, ref[step*tt.batch:(step+1)*tt.batch]) {
					t.Fatalf("Batch(%d) = %v; want %v", step, b, ref[step*tt.batch:(step+1)*tt.batch])
				}
				if got, want := s.Epoch(step), step*tt.batch/tt.n; got != want {
					t.Fatalf("Epoch(%d) = %d; want %d", step, got, want)
				}
			}
		})
	}
}

func TestSamplerResume(t *testing.T) {
	a, b := NewSampler(3, 50, 8), NewSampler(3, 50, 8)
	x, y := make([]int, 8), make([]int, 8)
	for step := range 30 {
		a.Batch(step, x)
	}
	// A fresh sampler asked for the next step gives what a continuing one does.
	a.Batch(30, x)
	b.Batch(30, y)
	if !slices.Equal(x, y) {
		t.Errorf("Batch(30) after 30 steps = %v; fresh = %v; want equal", x, y)
	}
	// Going back to an old step is allowed and exact too.
	c := NewSampler(3, 50, 8)
	c.Batch(2, y)
	a.Batch(2, x)
	if !slices.Equal(x, y) {
		t.Errorf("Batch(2) after step 30 = %v; want %v", x, y)
	}
	// The seed changes the order.
	d := NewSampler(4, 50, 8)
	d.Batch(0, y)
	a.Batch(0, x)
	if slices.Equal(x, y) {
		t.Errorf("Batch(0) with seeds 3 and 4 = %v; want different", x)
	}
}

func TestSamplerAllocs(t *testing.T) {
	s := NewSampler(1, 1000, 64)
	dst := make([]int, 64)
	step := 0
	for range 40 { // build both epoch slots
		s.Batch(step, dst)
		step++
	}
	allocs := testing.AllocsPerRun(200, func() {
		s.Batch(step, dst)
		step++
	})
	if allocs != 0 {
		t.Errorf("Batch allocates %v times per call in steady state; want 0", allocs)
	}
}

func TestSamplerPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"n 0", func() { NewSampler(1, 0, 1) }},
		{"batch 0", func() { NewSampler(1, 5, 0) }},
		{"short dst", func() { NewSampler(1, 5, 4).Batch(0, make([]int, 3)) }},
		{"negative step", func() { NewSampler(1, 5, 4).Batch(-1, make([]int, 4)) }},
		{"range past batch", func() { NewSampler(1, 5, 4).Range(0, 3, make([]int, 2)) }},
		{"share rank", func() { Share(4, 2, 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		})
	}
}

func BenchmarkSamplerBatch(b *testing.B) {
	s := NewSampler(1, 1_000_000, 64)
	dst := make([]int, 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Batch(i, dst)
	}
}
