//go:build !amd64

package model

const useAVX2 = false

func geluForwardAVX2(out, th, in *float32, n int)        { panic("model: no AVX2") }
func geluBackwardAVX2(dIn, dOut, in, th *float32, n, acc int) { panic("model: no AVX2") }
func expSumAVX2(x *float32, n int, m float32) float32    { panic("model: no AVX2") }
