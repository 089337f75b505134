//go:build ignore

// gen_kernels writes kernel_amd64.s, the assembly micro-kernels:
//
//	go run gen_kernels.go
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func emit(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// rowAddr is the address of row i of the A tile: rows 0-5 from SI, rows
// 6-11 from DX = SI + 6·rsa, with R8 = rsa, R9 = 3·rsa, R10 = 5·rsa (bytes).
func rowAddr(i int) string {
	base := "SI"
	if i >= 6 {
		base, i = "DX", i-6
	}
	return [...]string{
		"(" + base + ")", "(" + base + ")(R8*1)", "(" + base + ")(R8*2)",
		"(" + base + ")(R9*1)", "(" + base + ")(R8*4)", "(" + base + ")(R10*1)",
	}[i]
}

// micro writes one micro-kernel computing an mr×(2·w) tile, w floats per
// vector register: accumulators reg(0..2mr-1) (row r in 2r and 2r+1), the
// B rows in reg(2mr), reg(2mr+1), the A broadcasts alternating in
// reg(2mr+2), reg(2mr+3).
//
// With half set, the kernel computes only the first w columns (one vector
// per row, mr accumulators) of a panel still packed 2·w wide: the cheap way
// to finish C when its last panel has at most w columns.
func micro(name, reg string, mr, w int, half bool) {
	nr := 2 * w
	avx512 := reg == "Z"
	r := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
	b0, b1, x0, x1 := r(2*mr), r(2*mr+1), r(2*mr+2), r(2*mr+3)
	vb := 4 * w // bytes per vector
	emit("// func %s(kc int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32, rows, cmask, load int)", name)
	emit("//")
	tileCols := nr
	if half {
		tileCols = w
	}
	emit("// %s computes the %d×%d tile C = alpha*A·B + beta*C (C not read when", name, mr, tileCols)
	emit("// load == 0). Element (i, p) of A is at a[i*rsa + p*csa]; b is a packed")
	emit("// panel (kc×%d). Only the first rows rows of C, and its columns whose bit", nr)
	emit("// is set in cmask, are read and written.")
	_ = name
	emit("TEXT ·%s(SB), NOSPLIT, $0-88", name)
	emit("\tMOVQ kc+0(FP), CX")
	emit("\tMOVQ a+8(FP), SI")
	emit("\tMOVQ rsa+16(FP), R8")
	emit("\tSHLQ $2, R8")
	emit("\tMOVQ csa+24(FP), R11")
	emit("\tSHLQ $2, R11")
	emit("\tMOVQ b+32(FP), DI")
	emit("\tLEAQ (R8)(R8*2), R9")
	emit("\tLEAQ (R8)(R8*4), R10")
	if mr > 6 {
		emit("\tLEAQ (SI)(R9*2), DX")
	}
	for i := 0; i < 2*mr; i++ {
		if half && i%2 == 1 {
			continue
		}
		if avx512 {
			emit("\tVPXORD %s, %s, %s", r(i), r(i), r(i))
		} else {
			emit("\tVXORPS %s, %s, %s", r(i), r(i), r(i))
		}
	}
	// Fetch the C tile while the loop runs: its rows are read (beta) and
	// written at the end. Prefetching past the rows that exist is harmless.
	emit("\tMOVQ c+40(FP), AX")
	emit("\tMOVQ ldc+48(FP), BX")
	emit("\tSHLQ $2, BX")
	for i := 0; i < mr; i++ {
		emit("\tPREFETCHT0 (AX)")
		if 4*nr > 64 && !half {
			emit("\tPREFETCHT0 64(AX)")
		}
		if i < mr-1 {
			emit("\tADDQ BX, AX")
		}
	}
	emit("\tTESTQ CX, CX")
	emit("\tJEQ scale")
	emit("loop:")
	emit("\tVMOVUPS (DI), %s", b0)
	if !half {
		emit("\tVMOVUPS %d(DI), %s", vb, b1)
	}
	for i := 0; i < mr; i++ {
		x := x0
		if i%2 == 1 {
			x = x1
		}
		emit("\tVBROADCASTSS %s, %s", rowAddr(i), x)
		emit("\tVFMADD231PS %s, %s, %s", b0, x, r(2*i))
		if !half {
			emit("\tVFMADD231PS %s, %s, %s", b1, x, r(2*i+1))
		}
	}
	emit("\tADDQ R11, SI")
	if mr > 6 {
		emit("\tADDQ R11, DX")
	}
	emit("\tADDQ $%d, DI", 4*nr)
	emit("\tDECQ CX")
	emit("\tJNE loop")
	emit("scale:")
	emit("\tMOVQ c+40(FP), DI")
	emit("\tMOVQ ldc+48(FP), BX")
	emit("\tSHLQ $2, BX")
	emit("\tMOVQ rows+64(FP), R12")
	emit("\tVBROADCASTSS alpha+56(FP), %s", x0)
	for i := 0; i < 2*mr; i++ {
		if half && i%2 == 1 {
			continue
		}
		emit("\tVMULPS %s, %s, %s", x0, r(i), r(i))
	}
	emit("\tVBROADCASTSS beta+60(FP), %s", x1)
	// Column masks: K1, K2 (AVX-512) or b0, b1 as vectors (AVX2).
	emit("\tMOVQ cmask+72(FP), AX")
	if avx512 {
		emit("\tKMOVW AX, K1")
		emit("\tSHRQ $16, AX")
		emit("\tKMOVW AX, K2")
	} else {
		emit("\tVMOVQ AX, X12")
		emit("\tVPBROADCASTD X12, %s", b0)
		emit("\tVPAND colbits<>(SB), %s, %s", b0, b0)
		emit("\tVPCMPEQD colbits<>(SB), %s, %s", b0, b0)
		emit("\tSHRQ $8, AX")
		emit("\tVMOVQ AX, X13")
		emit("\tVPBROADCASTD X13, %s", b1)
		emit("\tVPAND colbits<>(SB), %s, %s", b1, b1)
		emit("\tVPCMPEQD colbits<>(SB), %s, %s", b1, b1)
	}
	load := func(off int, mask, dst string) {
		if avx512 {
			emit("\tVMOVUPS.Z %d(DI), %s, %s", off, mask, dst)
		} else {
			emit("\tVMASKMOVPS %d(DI), %s, %s", off, mask, dst)
		}
	}
	store := func(src string, off int, mask string) {
		if avx512 {
			emit("\tVMOVUPS %s, %s, %d(DI)", src, mask, off)
		} else {
			emit("\tVMASKMOVPS %s, %s, %d(DI)", src, mask, off)
		}
	}
	m0, m1 := "K1", "K2"
	if !avx512 {
		m0, m1 = b0, b1
	}
	emit("\tMOVQ load+80(FP), AX")
	emit("\tTESTQ AX, AX")
	emit("\tJEQ store")
	for i := 0; i < mr; i++ {
		load(0, m0, x0)
		emit("\tVFMADD231PS %s, %s, %s", x0, x1, r(2*i))
		store(r(2*i), 0, m0)
		if !half {
			load(vb, m1, x0)
			emit("\tVFMADD231PS %s, %s, %s", x0, x1, r(2*i+1))
			store(r(2*i+1), vb, m1)
		}
		if i < mr-1 {
			emit("\tCMPQ R12, $%d", i+1)
			emit("\tJEQ done")
			emit("\tADDQ BX, DI")
		}
	}
	emit("\tJMP done")
	emit("store:")
	for i := 0; i < mr; i++ {
		store(r(2*i), 0, m0)
		if !half {
			store(r(2*i+1), vb, m1)
		}
		if i < mr-1 {
			emit("\tCMPQ R12, $%d", i+1)
			emit("\tJEQ done")
			emit("\tADDQ BX, DI")
		}
	}
	emit("done:")
	emit("\tVZEROUPPER")
	emit("\tRET")
	emit("")
}

// dot4 writes a kernel computing four dot products of x with the rows
// w, w+ldw, w+2·ldw, w+3·ldw over k elements (k a multiple of 2·w floats),
// out[r] = Σ x[p]·w_r[p], summed in a fixed order.
func dot4(name, reg string, w int) {
	r := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
	vb := 4 * w
	emit("// func %s(k int, x, w *float32, ldw int, out *[4]float32)", name)
	emit("//")
	emit("// %s sets out[r] to the dot product of x and row r of w (row stride", name)
	emit("// ldw) over k elements, k a multiple of %d.", 2*w)
	emit("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	emit("\tMOVQ k+0(FP), CX")
	emit("\tMOVQ x+8(FP), SI")
	emit("\tMOVQ w+16(FP), DI")
	emit("\tMOVQ ldw+24(FP), R8")
	emit("\tSHLQ $2, R8")
	emit("\tLEAQ (DI)(R8*2), R9")
	// Two accumulators per row (even and odd vectors of x) hide the FMA latency.
	for i := 0; i < 8; i++ {
		if reg == "Z" {
			emit("\tVPXORD %s, %s, %s", r(i), r(i), r(i))
		} else {
			emit("\tVXORPS %s, %s, %s", r(i), r(i), r(i))
		}
	}
	emit("\tTESTQ CX, CX")
	emit("\tJEQ sum")
	emit("loop:")
	emit("\tVMOVUPS (SI), %s", r(8))
	emit("\tVMOVUPS %d(SI), %s", vb, r(9))
	rows := []string{"(DI)", "(DI)(R8*1)", "(R9)", "(R9)(R8*1)"}
	for i, a := range rows {
		emit("\tVFMADD231PS %s, %s, %s", a, r(8), r(i))
	}
	for i, a := range rows {
		emit("\tVFMADD231PS %d%s, %s, %s", vb, a, r(9), r(4+i))
	}
	emit("\tADDQ $%d, SI", 2*vb)
	emit("\tADDQ $%d, DI", 2*vb)
	emit("\tADDQ $%d, R9", 2*vb)
	emit("\tSUBQ $%d, CX", 2*w)
	emit("\tJNE loop")
	emit("sum:")
	for i := 0; i < 4; i++ {
		emit("\tVADDPS %s, %s, %s", r(4+i), r(i), r(i))
	}
	y := func(i int) string { return fmt.Sprintf("Y%d", i) }
	x := func(i int) string { return fmt.Sprintf("X%d", i) }
	if reg == "Z" {
		for i := 0; i < 4; i++ {
			emit("\tVEXTRACTF64X4 $1, %s, %s", r(i), y(8))
			emit("\tVADDPS %s, %s, %s", y(8), y(i), y(i))
		}
	}
	for i := 0; i < 4; i++ {
		emit("\tVEXTRACTF128 $1, %s, %s", y(i), x(8))
		emit("\tVADDPS %s, %s, %s", x(8), x(i), x(i))
	}
	emit("\tVHADDPS X1, X0, X0")
	emit("\tVHADDPS X3, X2, X2")
	emit("\tVHADDPS X2, X0, X0")
	emit("\tMOVQ out+32(FP), AX")
	emit("\tVMOVUPS X0, (AX)")
	emit("\tVZEROUPPER")
	emit("\tRET")
	emit("")
}

func main() {
	emit("// Code generated by gen_kernels.go; DO NOT EDIT.")
	emit("")
	emit("#include \"textflag.h\"")
	emit("")
	emit("// colbits holds 1<<j in lane j: AVX2 turns a column mask into lanes with it.")
	for j := 0; j < 8; j++ {
		emit("DATA colbits<>+%d(SB)/4, $%d", 4*j, 1<<j)
	}
	emit("GLOBL colbits<>(SB), RODATA|NOPTR, $32")
	emit("")
	micro("microAVX512", "Z", 12, 16, false)
	micro("microAVX512Half", "Z", 12, 16, true)
	micro("microAVX512Rows6", "Z", 6, 16, false)
	micro("microAVX512Rows6Half", "Z", 6, 16, true)
	micro("microAVX2", "Y", 6, 8, false)
	micro("microAVX2Half", "Y", 6, 8, true)
	dot4("dot4AVX512", "Z", 16)
	dot4("dot4AVX2", "Y", 8)
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
