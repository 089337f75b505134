//go:build amd64 && !purego

#include "textflag.h"

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

// func adamwAVX2(pp, gp, mp, vp *float32, n int, k *adamwConsts)
// The same operations, in the same order, as adamwGo; no FMA.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ pp+0(FP), DI
	MOVQ gp+8(FP), SI
	MOVQ mp+16(FP), R8
	MOVQ vp+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // beta1
	VBROADCASTSS 4(AX), Y9   // 1-beta1
	VBROADCASTSS 8(AX), Y10  // beta2
	VBROADCASTSS 12(AX), Y11 // 1-beta2
	VBROADCASTSS 16(AX), Y12 // decay factor 1-lr*wd
	VBROADCASTSS 20(AX), Y13 // sqrt(1-beta2^t)
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // lr/(1-beta1^t)
	XORQ BX, BX

adamwLoop:
	CMPQ BX, CX
	JGE  adamwDone
	VMOVUPS (SI)(BX*4), Y0     // g
	VMULPS  (R8)(BX*4), Y8, Y1 // beta1*m
	VMULPS  Y0, Y9, Y2         // (1-beta1)*g
	VADDPS  Y2, Y1, Y1         // m
	VMOVUPS Y1, (R8)(BX*4)
	VMULPS  (R9)(BX*4), Y10, Y3 // beta2*v
	VMULPS  Y0, Y0, Y4          // g*g
	VMULPS  Y4, Y11, Y4         // (1-beta2)*g*g
	VADDPS  Y4, Y3, Y3          // v
	VMOVUPS Y3, (R9)(BX*4)
	VSQRTPS Y3, Y3
	VDIVPS  Y13, Y3, Y3         // sqrt(v)/sqrt(1-beta2^t)
	VADDPS  Y14, Y3, Y3         // + eps
	VMULPS  Y1, Y15, Y1         // stepSize*m
	VDIVPS  Y3, Y1, Y1          // stepSize*m/denominator
	VMULPS  (DI)(BX*4), Y12, Y5 // p*decay
	VSUBPS  Y1, Y5, Y5
	VMOVUPS Y5, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     adamwLoop

adamwDone:
	VZEROUPPER
	RET

// func sumSquares16AVX2(x *float32, n int, lanes *[16]float64)
// Lane j accumulates the squares of elements i with i%16 == j.
TEXT ·sumSquares16AVX2(SB), NOSPLIT, $0-24
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	MOVQ    lanes+16(FP), AX
	VMOVUPD 0(AX), Y0
	VMOVUPD 32(AX), Y1
	VMOVUPD 64(AX), Y2
	VMOVUPD 96(AX), Y3
	XORQ    BX, BX

sumLoop:
	CMPQ      BX, CX
	JGE       sumDone
	VCVTPS2PD (SI)(BX*4), Y4
	VCVTPS2PD 16(SI)(BX*4), Y5
	VCVTPS2PD 32(SI)(BX*4), Y6
	VCVTPS2PD 48(SI)(BX*4), Y7
	VMULPD    Y4, Y4, Y4
	VMULPD    Y5, Y5, Y5
	VMULPD    Y6, Y6, Y6
	VMULPD    Y7, Y7, Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $16, BX
	JMP       sumLoop

sumDone:
	VMOVUPD Y0, 0(AX)
	VMOVUPD Y1, 32(AX)
	VMOVUPD Y2, 64(AX)
	VMOVUPD Y3, 96(AX)
	VZEROUPPER
	RET

// func scale8AVX2(x *float32, n int, s float32)
TEXT ·scale8AVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y0
	XORQ         BX, BX

scaleLoop:
	CMPQ    BX, CX
	JGE     scaleDone
	VMULPS  (DI)(BX*4), Y0, Y1
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     scaleLoop

scaleDone:
	VZEROUPPER
	RET
