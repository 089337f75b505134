//go:build !amd64 || purego

package optim

const useAVX2 = false

func adamw(p, g, m, v []float32, k *adamwConsts) { adamwGo(p, g, m, v, k) }

func sumSquares16(x []float32, lanes *[16]float64) { sumSquares16Go(x, lanes) }

func scale8(x []float32, s float32) { scaleGo(x, s) }
