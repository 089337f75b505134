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

// func geluForwardAVX2(out, th, in *float32, n int)
TEXT ·geluForwardAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ th+8(FP), SI
	MOVQ in+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   gfdone
gfloop:
	VMOVUPS (DX), Y0              // x
	VMULPS  Y0, Y0, Y1            // x²
	VMULPS  Y0, Y1, Y1            // x³
	VMULPS  gk<>(SB), Y0, Y2      // K·x
	VFMADD231PS gka<>(SB), Y1, Y2 // u = K·x + K·A·x³
	TANH8(Y2, Y3, Y4, Y5)         // Y5 = tanh(u)
	VMOVUPS Y5, (SI)
	VMULPS  half<>(SB), Y0, Y6    // h = x/2
	VFMADD213PS Y6, Y6, Y5        // h·t + h
	VMOVUPS Y5, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gfloop
gfdone:
	VZEROUPPER
	RET

// func geluBackwardAVX2(dIn, dOut, in, th *float32, n, acc int)
// dIn (+)= dOut · (0.5 + 0.5·t + 0.5·K·x·(1-t²)·(1+3A·x²))
TEXT ·geluBackwardAVX2(SB), NOSPLIT, $0-48
	MOVQ dIn+0(FP), DI
	MOVQ dOut+8(FP), SI
	MOVQ in+16(FP), DX
	MOVQ th+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ acc+40(FP), AX
	SHRQ $3, CX
	JZ   gbdone
	VMOVUPS one<>(SB), Y10
	VMOVUPS half<>(SB), Y11
	VMOVUPS g3a<>(SB), Y12
	VMOVUPS ghk<>(SB), Y13
gbloop:
	VMOVUPS (DX), Y0              // x
	VMOVUPS (BX), Y1              // t
	VMULPS  Y0, Y0, Y2            // x²
	VFMADD213PS Y10, Y12, Y2      // s = 3A·x² + 1
	VMOVAPS Y1, Y3
	VFNMADD213PS Y10, Y1, Y3      // 1 - t²
	VMULPS  Y13, Y0, Y4           // 0.5K·x
	VMULPS  Y3, Y4, Y4
	VMULPS  Y2, Y4, Y4            // r = 0.5K·x·(1-t²)·s
	VFMADD231PS Y11, Y1, Y4       // r += 0.5·t
	VADDPS  Y11, Y4, Y4           // g = r + 0.5
	VXORPS  Y5, Y5, Y5
	TESTQ   AX, AX
	JZ      gbset
	VMOVUPS (DI), Y5
gbset:
	VFMADD231PS (SI), Y4, Y5      // dIn (+)= g·dOut
	VMOVUPS Y5, (DI)
	ADDQ $32, DX
	ADDQ $32, BX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gbloop
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
	MOVSS   X0, ret+24(FP)
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
