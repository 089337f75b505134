//go:build amd64

#include "textflag.h"

// Constants, each broadcast to 8 lanes.
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

// tanh rational function (Eigen's ptanh_float), see tanhRational.
CONST8(ta1, 0x3ba059dc)
CONST8(ta3, 0x3a270ded)
CONST8(ta5, 0x3779434a)
CONST8(ta7, 0x335c0041)
CONST8(ta9, 0xaebd37ff)
CONST8(ta11, 0x2a61337e)
CONST8(ta13, 0xa59f25c0)
CONST8(tb0, 0x3ba059dd)
CONST8(tb2, 0x3b14aa05)
CONST8(tb4, 0x38f895d6)
CONST8(tb6, 0x35a0d3d8)
CONST8(tlim, 0x40fcf84f)
CONST8(tnlim, 0xc0fcf84f)
// GELU
CONST8(absmask, 0x7fffffff)
CONST8(gk, 0x3f4c422a)      // √(2/π)
CONST8(gka, 0x3d122279)     // √(2/π)·0.044715
CONST8(half, 0x3f000000)    // 0.5
CONST8(one, 0x3f800000)     // 1
CONST8(g3a, 0x3e095d4f)     // 3·0.044715
CONST8(ghk, 0x3ecc422a)     // 0.5·√(2/π)
// exp (Cephes expf), see expf
CONST8(ehi, 0x42b16666)     // 88.7
CONST8(elo, 0xc2ae999a)     // -87.3
CONST8(elog2e, 0x3fb8aa3b)
CONST8(eln2hi, 0x3f318000)
CONST8(eln2lo, 0xb95e8083)
CONST8(ep0, 0x39506967)
CONST8(ep1, 0x3ab743ce)
CONST8(ep2, 0x3c088908)
CONST8(ep3, 0x3d2aa9c1)
CONST8(ep4, 0x3e2aaaaa)
CONST8(ep5, 0x3f000000)
DATA ebias<>+0(SB)/4, $127; DATA ebias<>+4(SB)/4, $127
DATA ebias<>+8(SB)/4, $127; DATA ebias<>+12(SB)/4, $127
DATA ebias<>+16(SB)/4, $127; DATA ebias<>+20(SB)/4, $127
DATA ebias<>+24(SB)/4, $127; DATA ebias<>+28(SB)/4, $127
GLOBL ebias<>(SB), RODATA|NOPTR, $32

// TANH8 sets Y_out = tanh(Y_u), clobbering Y_u, Y_t1, Y_t2.
#define TANH8(u, t1, t2, out) \
	VMINPS tlim<>(SB), u, u; \
	VMAXPS tnlim<>(SB), u, u; \
	VMULPS u, u, t1; \
	VMOVUPS ta13<>(SB), out; \
	VFMADD213PS ta11<>(SB), t1, out; \
	VFMADD213PS ta9<>(SB), t1, out; \
	VFMADD213PS ta7<>(SB), t1, out; \
	VFMADD213PS ta5<>(SB), t1, out; \
	VFMADD213PS ta3<>(SB), t1, out; \
	VFMADD213PS ta1<>(SB), t1, out; \
	VMULPS u, out, out; \
	VMOVUPS tb6<>(SB), t2; \
	VFMADD213PS tb4<>(SB), t1, t2; \
	VFMADD213PS tb2<>(SB), t1, t2; \
	VFMADD213PS tb0<>(SB), t1, t2; \
	VDIVPS t2, out, out

// func geluForwardAVX2(out, dg, in *float32, n int)
// out = 0.5·x·(1+t), dg = 0.5 + 0.5·t + 0.5·K·x·(1-t²)·(1+3A·x²),
// t = tanh(K·(x + A·x³)); out may equal in.
TEXT ·geluForwardAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ dg+8(FP), SI
	MOVQ in+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   gfdone
	VMOVUPS one<>(SB), Y12
	VMOVUPS half<>(SB), Y13
	VMOVUPS ghk<>(SB), Y14
	VMOVUPS g3a<>(SB), Y15
gfloop:
	VMOVUPS (DX), Y0              // x
	VMULPS  Y0, Y0, Y1            // x²
	VMULPS  Y0, Y1, Y7            // x³
	VMULPS  gk<>(SB), Y0, Y2      // K·x
	VFMADD231PS gka<>(SB), Y7, Y2 // u = K·x + K·A·x³
	VANDPS  absmask<>(SB), Y2, Y11
	VCMPPS  $1, tlim<>(SB), Y11, Y11 // |u| < lim: tanh not saturated
	TANH8(Y2, Y3, Y4, Y5)         // Y5 = t
	VMOVAPS Y12, Y6
	VFMADD231PS Y15, Y1, Y6       // s = 1 + 3A·x²
	VMOVAPS Y12, Y8
	VFNMADD231PS Y5, Y5, Y8       // 1 - t²
	VANDPS  Y11, Y8, Y8           // 0 where saturated (the clamped t is not quite ±1)
	VMULPS  Y14, Y0, Y9           // 0.5K·x
	VMULPS  Y8, Y9, Y9
	VMULPS  Y6, Y9, Y9
	VFMADD231PS Y13, Y5, Y9       // + 0.5·t
	VADDPS  Y13, Y9, Y9           // + 0.5
	VMOVUPS Y9, (SI)
	VMULPS  Y13, Y0, Y10          // h = x/2
	VFMADD213PS Y10, Y10, Y5      // h·t + h
	VMOVUPS Y5, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gfloop
gfdone:
	VZEROUPPER
	RET

// func geluBackwardAVX2(dIn, dOut, dg *float32, n, acc int)
// dIn (+)= dOut·dg; dIn may equal dOut.
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-40
	MOVQ dIn+0(FP), DI
	MOVQ dOut+8(FP), SI
	MOVQ dg+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ acc+32(FP), AX
	SHRQ $3, CX
	JZ   gbdone
	TESTQ AX, AX
	JNZ  gbacc
gbset:
	VMOVUPS (DX), Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gbset
	JMP  gbdone
gbacc:
	VMOVUPS (DX), Y0
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gbacc
gbdone:
	VZEROUPPER
	RET

// func expSumAVX2(x *float32, n int, m float32) float32
TEXT ·expSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VXORPS Y14, Y14, Y14           // sum
	SHRQ $3, CX
	JZ   esdone
	VMOVUPS ehi<>(SB), Y12
	VMOVUPS elo<>(SB), Y13
	VMOVUPS elog2e<>(SB), Y11
	VMOVUPS one<>(SB), Y10
esloop:
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0            // x - m
	VMINPS  Y12, Y0, Y0
	VMAXPS  Y13, Y0, Y0
	VMULPS  Y11, Y0, Y1
	VROUNDPS $0, Y1, Y1            // n = round(x·log2e)
	VFNMADD231PS eln2hi<>(SB), Y1, Y0 // r = x - n·ln2hi
	VFNMADD231PS eln2lo<>(SB), Y1, Y0 // r -= n·ln2lo
	VMOVUPS ep0<>(SB), Y2
	VFMADD213PS ep1<>(SB), Y0, Y2
	VFMADD213PS ep2<>(SB), Y0, Y2
	VFMADD213PS ep3<>(SB), Y0, Y2
	VFMADD213PS ep4<>(SB), Y0, Y2
	VFMADD213PS ep5<>(SB), Y0, Y2
	VMULPS  Y0, Y0, Y3             // r²
	VADDPS  Y10, Y0, Y0            // r + 1
	VFMADD213PS Y0, Y3, Y2         // p·r² + r + 1
	VCVTPS2DQ Y1, Y1
	VPADDD  ebias<>(SB), Y1, Y1
	VPSLLD  $23, Y1, Y1            // 2^n
	VMULPS  Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	VADDPS  Y2, Y14, Y14
	ADDQ $32, DI
	DECQ CX
	JNZ  esloop
esdone:
	VEXTRACTF128 $1, Y14, X0
	VADDPS  X0, X14, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS  X0, ret+24(FP)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

DATA lanes<>+0(SB)/4, $0; DATA lanes<>+4(SB)/4, $1
DATA lanes<>+8(SB)/4, $2; DATA lanes<>+12(SB)/4, $3
DATA lanes<>+16(SB)/4, $4; DATA lanes<>+20(SB)/4, $5
DATA lanes<>+24(SB)/4, $6; DATA lanes<>+28(SB)/4, $7
GLOBL lanes<>(SB), RODATA|NOPTR, $32
CONST8(eight, 0x00000008)

// func softmaxRowAVX2(x *float32, n, n8 int) (m, s float32)
// x[:n8] = softmax(x[:n]) followed by zeros; n ≥ 1, n8 = n rounded up to 8.
// Returns the max m of x[:n] and s = Σ e^(x-m).
TEXT ·softmaxRowAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), AX
	MOVQ n8+16(FP), R8
	// max of x[:n]: whole vectors, then the scalar tail
	VBROADCASTSS (DI), Y0
	MOVQ AX, CX
	SHRQ $3, CX
	MOVQ DI, SI
	TESTQ CX, CX
	JZ   smtail
smmax:
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ  smmax
smtail:
	MOVQ AX, CX
	ANDQ $7, CX
	JZ   smhmax
smtl:
	VMAXSS (SI), X0, X1
	VBLENDPS $1, X1, X0, X0
	ADDQ $4, SI
	DECQ CX
	JNZ  smtl
smhmax:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS  X0, m+24(FP)
	VBROADCASTSS X0, Y15           // m
	// e = exp(x - m) on lanes < n, 0 on the others; sum
	VMOVQ AX, X8
	VPBROADCASTD X8, Y8            // n in every lane
	VMOVDQU lanes<>(SB), Y9        // lane indices of the current vector
	VMOVDQU eight<>(SB), Y7
	VXORPS Y14, Y14, Y14
	VMOVUPS ehi<>(SB), Y12
	VMOVUPS elo<>(SB), Y13
	VMOVUPS elog2e<>(SB), Y11
	VMOVUPS one<>(SB), Y10
	MOVQ R8, CX
	SHRQ $3, CX
	MOVQ DI, SI
smexp:
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	VMINPS  Y12, Y0, Y0
	VMAXPS  Y13, Y0, Y0
	VMULPS  Y11, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS eln2hi<>(SB), Y1, Y0
	VFNMADD231PS eln2lo<>(SB), Y1, Y0
	VMOVUPS ep0<>(SB), Y2
	VFMADD213PS ep1<>(SB), Y0, Y2
	VFMADD213PS ep2<>(SB), Y0, Y2
	VFMADD213PS ep3<>(SB), Y0, Y2
	VFMADD213PS ep4<>(SB), Y0, Y2
	VFMADD213PS ep5<>(SB), Y0, Y2
	VMULPS  Y0, Y0, Y3
	VADDPS  Y10, Y0, Y0
	VFMADD213PS Y0, Y3, Y2
	VCVTPS2DQ Y1, Y1
	VPADDD  ebias<>(SB), Y1, Y1
	VPSLLD  $23, Y1, Y1
	VMULPS  Y1, Y2, Y2
	VPCMPGTD Y9, Y8, Y4            // lane < n
	VANDPS  Y4, Y2, Y2
	VMOVUPS Y2, (SI)
	VADDPS  Y2, Y14, Y14
	VPADDD  Y7, Y9, Y9
	ADDQ $32, SI
	DECQ CX
	JNZ  smexp
	VEXTRACTF128 $1, Y14, X0
	VADDPS  X0, X14, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS  X0, s+28(FP)
	VDIVSS  X0, X10, X0            // 1/sum
	VBROADCASTSS X0, Y0
	MOVQ R8, CX
	SHRQ $3, CX
	MOVQ DI, SI
smscale:
	VMULPS (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  smscale
	VZEROUPPER
	RET

CONST8(lneps, 0x3727c5ac)      // 1e-5

// HSUM8 leaves the sum of the lanes of Y_r in the low lane of X_r, using X_t.
#define HSUM8(r, xr, xt) \
	VEXTRACTF128 $1, r, xt; \
	VADDPS xt, xr, xr; \
	VHADDPS xr, xr, xr; \
	VHADDPS xr, xr, xr

// func layerNormFwdAVX2(out, mean, rstd, in, w, b *float32, rows, c int)
// b may be nil; c is a multiple of 8.
TEXT ·layerNormFwdAVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ mean+8(FP), R10
	MOVQ rstd+16(FP), R11
	MOVQ in+24(FP), SI
	MOVQ w+32(FP), R12
	MOVQ b+40(FP), R13
	MOVQ rows+48(FP), R14
	MOVQ c+56(FP), R15
	TESTQ R14, R14
	JZ   lfdone
	VCVTSI2SSQ R15, X13, X13        // c as float32
	VMOVSS one<>(SB), X12
	VDIVSS X13, X12, X13           // 1/c
	VBROADCASTSS X13, Y13
	MOVQ R15, R9
	SHLQ $2, R9                    // row bytes
lfrow:
	// mean
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
lfsum:
	VADDPS (SI)(AX*1), Y0, Y0
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lfsum
	HSUM8(Y0, X0, X1)
	VMULSS X13, X0, X0
	VMOVSS X0, (R10)
	VBROADCASTSS X0, Y2            // m
	// variance
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
lfvar:
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y2, Y1, Y1
	VFMADD231PS Y1, Y1, Y0
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lfvar
	HSUM8(Y0, X0, X1)
	VMULSS X13, X0, X0
	VADDSS lneps<>(SB), X0, X0
	VSQRTSS X0, X0, X0
	VMOVSS one<>(SB), X1
	VDIVSS X0, X1, X0              // rstd
	VMOVSS X0, (R11)
	VBROADCASTSS X0, Y3            // rs
	// out = (x-m)·rs·w (+ b)
	XORQ AX, AX
	TESTQ R13, R13
	JZ   lfnob
lfout:
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y2, Y1, Y1
	VMULPS Y3, Y1, Y1
	VMULPS (R12)(AX*1), Y1, Y1
	VADDPS (R13)(AX*1), Y1, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lfout
	JMP  lfnext
lfnob:
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y2, Y1, Y1
	VMULPS Y3, Y1, Y1
	VMULPS (R12)(AX*1), Y1, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lfnob
lfnext:
	ADDQ R9, SI
	ADDQ R9, DI
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R14
	JNZ  lfrow
lfdone:
	VZEROUPPER
	RET

// func layerNormBwdAVX2(dIn, dOut, in, mean, rstd, w *float32, rows, c, acc int)
// per row: dIn (+)= (w·d - mean(w·d) - n·mean(w·d·n))·rs, n = (x-m)·rs
TEXT ·layerNormBwdAVX2(SB), NOSPLIT, $0-72
	MOVQ dIn+0(FP), DI
	MOVQ dOut+8(FP), DX
	MOVQ in+16(FP), SI
	MOVQ mean+24(FP), R10
	MOVQ rstd+32(FP), R11
	MOVQ w+40(FP), R12
	MOVQ rows+48(FP), R14
	MOVQ c+56(FP), R15
	MOVQ acc+64(FP), BX
	TESTQ R14, R14
	JZ   lbdone
	VCVTSI2SSQ R15, X13, X13
	VMOVSS one<>(SB), X12
	VDIVSS X13, X12, X13
	VBROADCASTSS X13, Y13          // 1/c
	MOVQ R15, R9
	SHLQ $2, R9
lbrow:
	VBROADCASTSS (R10), Y2         // m
	VBROADCASTSS (R11), Y3         // rs
	VXORPS Y4, Y4, Y4              // Σ w·d
	VXORPS Y5, Y5, Y5              // Σ w·d·n
	XORQ AX, AX
lbsum:
	VMOVUPS (R12)(AX*1), Y0
	VMULPS (DX)(AX*1), Y0, Y0      // wd
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y2, Y1, Y1
	VMULPS Y3, Y1, Y1              // n
	VADDPS Y0, Y4, Y4
	VFMADD231PS Y1, Y0, Y5
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lbsum
	HSUM8(Y4, X4, X0)
	HSUM8(Y5, X5, X0)
	VMULSS X13, X4, X4
	VMULSS X13, X5, X5
	VBROADCASTSS X4, Y4            // dm
	VBROADCASTSS X5, Y5            // dnm
	XORQ AX, AX
lbout:
	VMOVUPS (SI)(AX*1), Y1
	VSUBPS Y2, Y1, Y1
	VMULPS Y3, Y1, Y1              // n
	VMOVUPS (R12)(AX*1), Y0
	VMULPS (DX)(AX*1), Y0, Y0      // wd
	VSUBPS Y4, Y0, Y0
	VFNMADD231PS Y5, Y1, Y0        // wd - dm - n·dnm
	VMULPS Y3, Y0, Y0
	TESTQ BX, BX
	JZ   lbset
	VADDPS (DI)(AX*1), Y0, Y0
lbset:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT  lbout
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ R9, DI
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R14
	JNZ  lbrow
lbdone:
	VZEROUPPER
	RET

// func layerNormColsAVX2(dW, dB, dOut, in, mean, rstd *float32, rows, c int)
// For 8 columns at dW, dB (nil: none), dOut, in (already offset to the
// first column; rows c apart): dW += Σ_r d·(x-m)·rs, dB += Σ_r d.
TEXT ·layerNormColsAVX2(SB), NOSPLIT, $0-64
	MOVQ dW+0(FP), DI
	MOVQ dB+8(FP), BX
	MOVQ dOut+16(FP), DX
	MOVQ in+24(FP), SI
	MOVQ mean+32(FP), R10
	MOVQ rstd+40(FP), R11
	MOVQ rows+48(FP), R14
	MOVQ c+56(FP), R9
	SHLQ $2, R9
	VMOVUPS (DI), Y4
	VXORPS Y5, Y5, Y5
	TESTQ BX, BX
	JZ   lcnob
	VMOVUPS (BX), Y5
lcnob:
	TESTQ R14, R14
	JZ   lcstore
lcrow:
	VBROADCASTSS (R10), Y2
	VBROADCASTSS (R11), Y3
	VMOVUPS (SI), Y1
	VSUBPS Y2, Y1, Y1
	VMULPS Y3, Y1, Y1              // n
	VMOVUPS (DX), Y0               // d
	VFMADD231PS Y1, Y0, Y4
	VADDPS Y0, Y5, Y5
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R14
	JNZ  lcrow
lcstore:
	VMOVUPS Y4, (DI)
	TESTQ BX, BX
	JZ   lcdone
	VMOVUPS Y5, (BX)
lcdone:
	VZEROUPPER
	RET

// func softmaxBwdRowAVX2(da, a *float32, n8 int, scale float32)
// da[:n8] = scale·a·(da - Σ a·da) over n8 (a multiple of 8) elements; a is
// zero past the row's causal length, so those lanes come out zero.
TEXT ·softmaxBwdRowAVX2(SB), NOSPLIT, $0-28
	MOVQ da+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n8+16(FP), CX
	VBROADCASTSS scale+24(FP), Y2
	SHRQ $3, CX
	JZ   sbdone
	MOVQ CX, DX
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
sbdot:
	VMOVUPS (SI)(AX*1), Y1
	VFMADD231PS (DI)(AX*1), Y1, Y0
	ADDQ $32, AX
	DECQ CX
	JNZ  sbdot
	HSUM8(Y0, X0, X1)
	VBROADCASTSS X0, Y0
	XORQ AX, AX
sbout:
	VMOVUPS (DI)(AX*1), Y1
	VSUBPS Y0, Y1, Y1
	VMULPS (SI)(AX*1), Y1, Y1
	VMULPS Y2, Y1, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	DECQ DX
	JNZ  sbout
sbdone:
	VZEROUPPER
	RET

// func matVecAVX2(out, w, x *float32, rows, c int)
// out[r] = Σ_i w[r·c+i]·x[i] for r < rows; c is a multiple of 16.
TEXT ·matVecAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ rows+24(FP), R8
	MOVQ c+32(FP), R9
	SHLQ $2, R9                    // row bytes
	TESTQ R8, R8
	JZ   mvdone
mvrow:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ AX, AX
mvcol:
	VMOVUPS (SI)(AX*1), Y2
	VFMADD231PS (DX)(AX*1), Y2, Y0
	VMOVUPS 32(SI)(AX*1), Y3
	VFMADD231PS 32(DX)(AX*1), Y3, Y1
	ADDQ $64, AX
	CMPQ AX, R9
	JLT  mvcol
	VADDPS Y1, Y0, Y0
	HSUM8(Y0, X0, X1)
	VMOVSS X0, (DI)
	ADDQ R9, SI
	ADDQ $4, DI
	DECQ R8
	JNZ  mvrow
mvdone:
	VZEROUPPER
	RET

// func mulAVX2(out, a, b *float32, n int)
// out = a·b elementwise over n (a multiple of 8) elements; out may be a or b.
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   muldone
mulloop:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  mulloop
muldone:
	VZEROUPPER
	RET

// func mulAddAVX2(out, a, b, c *float32, n int)
// out = a·b + c elementwise over n (a multiple of 8) elements.
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), BX
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   madone
maloop:
	VMOVUPS (SI), Y0
	VMOVUPS (BX), Y1
	VFMADD231PS (DX), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ  maloop
madone:
	VZEROUPPER
	RET

// func comb4x32AVX512(out *float32, ldo int, coef *float32, csi, csj int, m *float32, ldm, jn, acc int)
// For r < 4: out[r·ldo : r·ldo+32] (+)= Σ_{j<jn} coef[r·csi + j·csj] · m[j·ldm : j·ldm+32].
// Strides in floats. The row × matrix products of attention (P·V, dS·K,
// Pᵀ·dY, dSᵀ·Q) without gemm's packing.
TEXT ·comb4x32AVX512(SB), NOSPLIT, $0-72
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), R8
	SHLQ $2, R8
	MOVQ coef+16(FP), SI
	MOVQ csi+24(FP), R9
	SHLQ $2, R9
	MOVQ csj+32(FP), R10
	SHLQ $2, R10
	MOVQ m+40(FP), DX
	MOVQ ldm+48(FP), R11
	SHLQ $2, R11
	MOVQ jn+56(FP), CX
	MOVQ acc+64(FP), AX
	LEAQ (R9)(R9*2), R15           // 3·csi
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ CX, CX
	JZ   cbstore
cbloop:
	VMOVUPS (DX), Z8
	VMOVUPS 64(DX), Z9
	VBROADCASTSS (SI), Z10
	VBROADCASTSS (SI)(R9*1), Z11
	VBROADCASTSS (SI)(R9*2), Z12
	VBROADCASTSS (SI)(R15*1), Z13
	VFMADD231PS Z10, Z8, Z0
	VFMADD231PS Z10, Z9, Z1
	VFMADD231PS Z11, Z8, Z2
	VFMADD231PS Z11, Z9, Z3
	VFMADD231PS Z12, Z8, Z4
	VFMADD231PS Z12, Z9, Z5
	VFMADD231PS Z13, Z8, Z6
	VFMADD231PS Z13, Z9, Z7
	ADDQ R10, SI
	ADDQ R11, DX
	DECQ CX
	JNZ  cbloop
cbstore:
	TESTQ AX, AX
	JZ   cbset
	VADDPS (DI), Z0, Z0
	VADDPS 64(DI), Z1, Z1
	ADDQ R8, DI
	VADDPS (DI), Z2, Z2
	VADDPS 64(DI), Z3, Z3
	ADDQ R8, DI
	VADDPS (DI), Z4, Z4
	VADDPS 64(DI), Z5, Z5
	ADDQ R8, DI
	VADDPS (DI), Z6, Z6
	VADDPS 64(DI), Z7, Z7
	MOVQ out+0(FP), DI
cbset:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ R8, DI
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)
	ADDQ R8, DI
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, 64(DI)
	ADDQ R8, DI
	VMOVUPS Z6, (DI)
	VMOVUPS Z7, 64(DI)
	VZEROUPPER
	RET

// func geluForwardAVX512(out, dg, in *float32, n int)
// geluForwardAVX2 with 16 lanes; n is a multiple of 16.
TEXT ·geluForwardAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ dg+8(FP), SI
	MOVQ in+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   gzdone
	VBROADCASTSS ta1<>(SB), Z16
	VBROADCASTSS ta3<>(SB), Z17
	VBROADCASTSS ta5<>(SB), Z18
	VBROADCASTSS ta7<>(SB), Z19
	VBROADCASTSS ta9<>(SB), Z20
	VBROADCASTSS ta11<>(SB), Z21
	VBROADCASTSS ta13<>(SB), Z22
	VBROADCASTSS tb0<>(SB), Z23
	VBROADCASTSS tb2<>(SB), Z24
	VBROADCASTSS tb4<>(SB), Z25
	VBROADCASTSS tb6<>(SB), Z26
	VBROADCASTSS tlim<>(SB), Z27
	VBROADCASTSS tnlim<>(SB), Z28
	VBROADCASTSS gk<>(SB), Z29
	VBROADCASTSS gka<>(SB), Z30
	VBROADCASTSS absmask<>(SB), Z31
	VBROADCASTSS one<>(SB), Z12
	VBROADCASTSS half<>(SB), Z13
	VBROADCASTSS ghk<>(SB), Z14
	VBROADCASTSS g3a<>(SB), Z15
gzloop:
	VMOVUPS (DX), Z0              // x
	VMULPS  Z0, Z0, Z1            // x²
	VMULPS  Z0, Z1, Z7            // x³
	VMULPS  Z29, Z0, Z2           // K·x
	VFMADD231PS Z30, Z7, Z2       // u
	VANDPS  Z31, Z2, Z11          // |u|
	VCMPPS  $1, Z27, Z11, K1      // |u| < lim
	VMINPS  Z27, Z2, Z2
	VMAXPS  Z28, Z2, Z2
	VMULPS  Z2, Z2, Z3            // u²
	VMOVAPS Z22, Z5
	VFMADD213PS Z21, Z3, Z5
	VFMADD213PS Z20, Z3, Z5
	VFMADD213PS Z19, Z3, Z5
	VFMADD213PS Z18, Z3, Z5
	VFMADD213PS Z17, Z3, Z5
	VFMADD213PS Z16, Z3, Z5
	VMULPS  Z2, Z5, Z5
	VMOVAPS Z26, Z4
	VFMADD213PS Z25, Z3, Z4
	VFMADD213PS Z24, Z3, Z4
	VFMADD213PS Z23, Z3, Z4
	VDIVPS  Z4, Z5, Z5            // t
	VMOVAPS Z12, Z6
	VFMADD231PS Z15, Z1, Z6       // s = 1 + 3A·x²
	VMOVAPS Z12, Z8
	VFNMADD231PS Z5, Z5, Z8       // 1 - t²
	VMOVAPS.Z Z8, K1, Z8          // 0 where saturated
	VMULPS  Z14, Z0, Z9           // 0.5K·x
	VMULPS  Z8, Z9, Z9
	VMULPS  Z6, Z9, Z9
	VFMADD231PS Z13, Z5, Z9       // + 0.5·t
	VADDPS  Z13, Z9, Z9           // + 0.5
	VMOVUPS Z9, (SI)
	VMULPS  Z13, Z0, Z10          // h = x/2
	VFMADD213PS Z10, Z10, Z5      // h·t + h
	VMOVUPS Z5, (DI)
	ADDQ $64, DX
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  gzloop
gzdone:
	VZEROUPPER
	RET
