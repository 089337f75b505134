package model

import "math"

func mathTanh(x float64) float64 { return math.Tanh(x) }
func mathExp(x float64) float64  { return math.Exp(x) }

func mathSqrt(x float64) float64 { return math.Sqrt(x) }

func mathLog(x float64) float64 { return math.Log(x) }
