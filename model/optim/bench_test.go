package optim

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchN is about the parameter count of the nanoGPT "baby" config
// (4 layers, 128 wide, vocabulary 65, context 64).
const benchN = 810_000

// threadCounts runs f as sub-benchmarks at 1 and 2 threads.
func threadCounts(b *testing.B, f func(b *testing.B)) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", n), func(b *testing.B) {
			SetThreads(n)
			defer SetThreads(1)
			f(b)
		})
	}
}

func BenchmarkAdamWStep(b *testing.B) {
	threadCounts(b, func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		p, g := randVec(rng, benchN, 1), randVec(rng, benchN, 1e-3)
		o := NewAdamW(DefaultAdamWConfig(), benchN, []Group{{Offset: 0, Len: benchN / 2, Decay: true}})
		b.SetBytes(benchN * 4)
		step := 0
		for b.Loop() {
			step++
			o.Step(step, 1e-3, p, g)
		}
	})
}

func BenchmarkAdamWStepGo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, g := randVec(rng, benchN, 1), randVec(rng, benchN, 1e-3)
	o := NewAdamW(DefaultAdamWConfig(), benchN, nil)
	k := o.consts(10, 1e-3, 0.1)
	b.SetBytes(benchN * 4)
	for b.Loop() {
		adamwGo(p, g, o.m, o.v, &k)
	}
}

func BenchmarkSGDStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, g := randVec(rng, benchN, 1), randVec(rng, benchN, 1e-3)
	o := NewSGD(DefaultSGDConfig(), benchN, nil)
	b.SetBytes(benchN * 4)
	for b.Loop() {
		o.Step(1, 1e-3, p, g)
	}
}

func BenchmarkClipGlobalNorm(b *testing.B) {
	threadCounts(b, func(b *testing.B) {
		g := randVec(rand.New(rand.NewPCG(1, 2)), benchN, 1e-3)
		b.SetBytes(benchN * 4)
		for b.Loop() {
			ClipGlobalNorm(g, 1e9)
		}
	})
}

func BenchmarkScale(b *testing.B) {
	threadCounts(b, func(b *testing.B) {
		g := randVec(rand.New(rand.NewPCG(1, 2)), benchN, 1e-3)
		b.SetBytes(benchN * 4)
		for b.Loop() {
			Scale(g, 1)
		}
	})
}

// BenchmarkAdamWState: the optimizer's part of every checkpoint and of the
// state a joining worker receives, out and back in.
func BenchmarkAdamWState(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	p, g := randVec(rng, benchN, 1), randVec(rng, benchN, 1e-3)
	o := NewAdamW(DefaultAdamWConfig(), benchN, []Group{{Offset: 0, Len: benchN, Decay: true}})
	o.Step(1, 1e-3, p, g)
	b.Run("marshal", func(b *testing.B) {
		b.SetBytes(2 * benchN * 4)
		for b.Loop() {
			if _, err := o.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
	})
	data, err := o.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(2 * benchN * 4)
		for b.Loop() {
			if err := o.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
