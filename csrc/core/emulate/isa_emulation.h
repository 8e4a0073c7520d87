// ISA emulation for the test build (CMake DLCORE_ISA_EMULATION=ON, never the
// wheel): force-included (-include) ahead of every tier file (*_avx512*.cpp,
// *_avxvnni*.cpp, *_amx*.cpp ...), which are then compiled with -mavx2 -mfma
// -mf16c only, so that their kernels RUN on a CPU without those ISAs and their
// tests check them for correctness (not speed).
//   AVX-512 F/BW/VL/DQ, VNNI, VPOPCNTDQ, BF16: SIMDe (libsimde-dev, >= 0.7.4)
//     with its native aliases, so `_mm512_*` and `__m512*` compile unchanged.
//   What SIMDe 0.7.4 lacks, written here from Intel's pseudo-code (SDM vol. 2,
//     Intrinsics Guide): _mm512_cvtne2ps_pbh, _mm512_cvtneps_pbh (RNE, DAZ,
//     NaN quietened), _mm256_dpbusd_avx_epi32 (AVX-VNNI), and _mm512_dpbf16_ps
//     replaced by the hardware's order (odd pair first, DAZ in, FTZ out).
//   AMX: a small per-thread tile emulator (amx_emulator.h).
// Every emulated instruction is slower than the real one by 10-1000x: this
// build is for correctness only; cpu.cpp reports each tier "emulated".
#pragma once

#include <immintrin.h>  // the real AVX2 intrinsics first; SIMDe keeps them native

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Our headers guard their AVX-512 sections with __AVX512F__; in this build the
// tier files take those sections with the emulated intrinsics.
#define DLCORE_ISA_EMULATED 1

namespace dlcore_emu {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
// make_fp32 with DAZ: a bf16 denormal reads as a signed zero.
inline float bf16_daz(uint16_t h) {
  if ((h & 0x7f80u) == 0) h &= 0x8000u;
  return bits_to_f32(uint32_t(h) << 16);
}
// FTZ on a float32 result: a denormal becomes a signed zero.
inline float ftz(float x) {
  uint32_t u = f32_to_bits(x);
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
  return bits_to_f32(u);
}
// convert_fp32_to_bfloat16 of the SDM (VCVTNE2PS2BF16, VCVTNEPS2BF16): zero
// and denormal inputs give a signed zero, infinities truncate, NaN keeps its
// upper payload with the quiet bit set, normals round to nearest even (an
// overflow rounds to infinity).
inline uint16_t cvtne_f32_bf16(float f) {
  const uint32_t x = f32_to_bits(f);
  const uint32_t exp = x & 0x7f800000u, man = x & 0x007fffffu;
  if (exp == 0) return uint16_t((x >> 16) & 0x8000u);
  if (exp == 0x7f800000u) {
    if (man == 0) return uint16_t(x >> 16);
    return uint16_t((x >> 16) | 0x0040u);
  }
  const uint32_t lsb = (x >> 16) & 1u;
  return uint16_t((x + 0x7fffu + lsb) >> 16);
}

inline simde__m512bh cvtne2ps_pbh(simde__m512 a, simde__m512 b) {
  float fa[16], fb[16];
  std::memcpy(fa, &a, 64);
  std::memcpy(fb, &b, 64);
  uint16_t r[32];
  for (int i = 0; i < 16; ++i) {
    r[i] = cvtne_f32_bf16(fb[i]);  // the second operand fills the low half
    r[16 + i] = cvtne_f32_bf16(fa[i]);
  }
  simde__m512bh out;
  std::memcpy(&out, r, 64);
  return out;
}

inline simde__m256bh cvtneps_pbh(simde__m512 a) {
  float fa[16];
  std::memcpy(fa, &a, 64);
  uint16_t r[16];
  for (int i = 0; i < 16; ++i) r[i] = cvtne_f32_bf16(fa[i]);
  simde__m256bh out;
  std::memcpy(&out, r, 32);
  return out;
}

// VDPBF16PS: per float32 lane, src += a.odd*b.odd, then += a.even*b.even; each
// step a float32 FMA with DAZ inputs, FTZ output and RNE (MXCSR ignored).
inline simde__m512 dpbf16_ps(simde__m512 src, simde__m512bh a, simde__m512bh b) {
  float acc[16];
  uint16_t ha[32], hb[32];
  std::memcpy(acc, &src, 64);
  std::memcpy(ha, &a, 64);
  std::memcpy(hb, &b, 64);
  for (int i = 0; i < 16; ++i) {
    float s = ftz(acc[i]);  // DAZ also applies to the accumulator input
    s = ftz(__builtin_fmaf(bf16_daz(ha[2 * i + 1]), bf16_daz(hb[2 * i + 1]), s));
    s = ftz(__builtin_fmaf(bf16_daz(ha[2 * i]), bf16_daz(hb[2 * i]), s));
    acc[i] = s;
  }
  simde__m512 out;
  std::memcpy(&out, acc, 64);
  return out;
}

// VPDPBUSD (AVX-VNNI, VEX): per int32 lane, src + sum of 4 u8(a) * s8(b),
// wrapping (no saturation).
inline simde__m256i dpbusd_avx_epi32(simde__m256i src, simde__m256i a, simde__m256i b) {
  int32_t acc[8];
  uint8_t ua[32];
  int8_t sb[32];
  std::memcpy(acc, &src, 32);
  std::memcpy(ua, &a, 32);
  std::memcpy(sb, &b, 32);
  for (int i = 0; i < 8; ++i) {
    uint32_t s = uint32_t(acc[i]);
    for (int j = 0; j < 4; ++j) s += uint32_t(int32_t(ua[4 * i + j]) * int32_t(sb[4 * i + j]));
    acc[i] = int32_t(s);
  }
  simde__m256i out;
  std::memcpy(&out, acc, 32);
  return out;
}

// ---- AVX-512F intrinsics SIMDe 0.7.4 lacks (GCC's own are always_inline
// functions for -mavx512f, which cannot inline into this AVX2 code) --------
template <typename T, typename V>
inline void to_lanes(T* out, const V& v) {
  static_assert(sizeof(V) == 64 || sizeof(V) == 32 || sizeof(V) == 16, "vector");
  std::memcpy(out, &v, sizeof(V));
}
template <typename V, typename T>
inline V from_lanes(const T* in) {
  V v;
  std::memcpy(&v, in, sizeof(V));
  return v;
}
[[noreturn]] inline void avx512_fault(const char* insn, const char* why) {
  std::fprintf(stderr, "dlcore AVX-512 emulation: #GP in %s: %s\n", insn, why);
  std::abort();
}

inline simde__m512 cvtepi32_ps(simde__m512i a) {
  int32_t x[16];
  float r[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i) r[i] = float(x[i]);  // RNE, MXCSR's default
  return from_lanes<simde__m512>(r);
}
// vcvtps2dq: round to nearest even (MXCSR default); NaN and out-of-range give
// the "integer indefinite" 0x80000000.
inline simde__m512i cvtps_epi32(simde__m512 a) {
  float x[16];
  int32_t r[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i) {
    const float v = __builtin_nearbyintf(x[i]);
    r[i] = (v >= -2147483648.0f && v < 2147483648.0f) ? int32_t(v) : INT32_MIN;
  }
  return from_lanes<simde__m512i>(r);
}
inline simde__m512i cvtepu8_epi32(simde__m128i a) {
  uint8_t x[16];
  int32_t r[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i) r[i] = x[i];
  return from_lanes<simde__m512i>(r);
}
inline simde__m512 i32gather_ps(simde__m512i idx, const void* base, int scale) {
  int32_t ix[16];
  float r[16];
  to_lanes(ix, idx);
  for (int i = 0; i < 16; ++i) std::memcpy(&r[i], static_cast<const char*>(base) + int64_t(ix[i]) * scale, 4);
  return from_lanes<simde__m512>(r);
}
// Masked loads/stores touch only the selected lanes (the hardware suppresses
// faults on the others, so a kernel may point past the end of an array).
inline void mask_storeu_ps(void* p, unsigned k, simde__m512 a) {
  float x[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1u) std::memcpy(static_cast<char*>(p) + 4 * i, &x[i], 4);
}
inline simde__m512 maskz_loadu_ps(unsigned k, const void* p) {
  float r[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1u) std::memcpy(&r[i], static_cast<const char*>(p) + 4 * i, 4);
  return from_lanes<simde__m512>(r);
}
inline simde__m512i maskz_loadu_epi64(unsigned k, const void* p) {
  int64_t r[8] = {};
  for (int i = 0; i < 8; ++i)
    if ((k >> i) & 1u) std::memcpy(&r[i], static_cast<const char*>(p) + 8 * i, 8);
  return from_lanes<simde__m512i>(r);
}
inline int64_t reduce_add_epi64(simde__m512i a) {
  int64_t x[8];
  to_lanes(x, a);
  uint64_t s = 0;
  for (int i = 0; i < 8; ++i) s += uint64_t(x[i]);
  return int64_t(s);
}
// GCC's reduction order (avx512fintrin.h __MM512_REDUCE_OP): halves of 8, 4,
// 2, 1 lanes, the upper half as the first operand.
template <typename Op>
inline float reduce_ps(simde__m512 a, Op op) {
  float x[16];
  to_lanes(x, a);
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) x[i] = op(x[i + w], x[i]);
  return x[0];
}
inline float reduce_add_ps(simde__m512 a) {
  return reduce_ps(a, [](float u, float v) { return u + v; });
}
inline float reduce_max_ps(simde__m512 a) {  // maxps: the second operand when either is NaN
  return reduce_ps(a, [](float u, float v) { return u > v ? u : v; });
}
// vrsqrt14ps: relative error < 2^-14; emulated as the exact value (the
// hardware's differs in the last 10 bits: tests must not expect the exact one).
inline simde__m512 rsqrt14_ps(simde__m512 a) {
  float x[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i) x[i] = 1.0f / __builtin_sqrtf(x[i]);
  return from_lanes<simde__m512>(x);
}
inline simde__m512i shuffle_epi32(simde__m512i a, int imm) {
  int32_t x[16], r[16];
  to_lanes(x, a);
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 4; ++i) r[4 * l + i] = x[4 * l + ((imm >> (2 * i)) & 3)];
  return from_lanes<simde__m512i>(r);
}
inline simde__m512i srai_epi32(simde__m512i a, unsigned imm) {
  int32_t x[16];
  to_lanes(x, a);
  for (int i = 0; i < 16; ++i) x[i] = x[i] >> (imm > 31 ? 31 : imm);
  return from_lanes<simde__m512i>(x);
}
// Aligned accesses fault (#GP) on an address not 64-byte aligned, as the
// hardware does: a kernel that assumes alignment it lacks must not pass here.
inline void check_aligned64(const void* p, const char* insn) {
  if (reinterpret_cast<uintptr_t>(p) % 64) avx512_fault(insn, "memory operand not 64-byte aligned");
}
inline void stream_ps(void* p, simde__m512 a) {
  check_aligned64(p, "VMOVNTPS");
  std::memcpy(p, &a, 64);
}
inline simde__m512 load_ps(const void* p) {
  check_aligned64(p, "VMOVAPS (load)");
  return from_lanes<simde__m512>(static_cast<const float*>(p));
}
inline void store_ps(void* p, simde__m512 a) {
  check_aligned64(p, "VMOVAPS (store)");
  std::memcpy(p, &a, 64);
}

}  // namespace dlcore_emu

#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(a) dlcore_emu::cvtepi32_ps(a)
#undef _mm512_cvtps_epi32
#define _mm512_cvtps_epi32(a) dlcore_emu::cvtps_epi32(a)
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(a) dlcore_emu::cvtepu8_epi32(a)
#undef _mm512_i32gather_ps
#define _mm512_i32gather_ps(idx, base, scale) dlcore_emu::i32gather_ps(idx, base, scale)
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, a) dlcore_emu::mask_storeu_ps(p, k, a)
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) dlcore_emu::maskz_loadu_ps(k, p)
#undef _mm512_maskz_loadu_epi64
#define _mm512_maskz_loadu_epi64(k, p) dlcore_emu::maskz_loadu_epi64(k, p)
#undef _mm512_reduce_add_epi64
#define _mm512_reduce_add_epi64(a) dlcore_emu::reduce_add_epi64(a)
#undef _mm512_reduce_add_ps
#define _mm512_reduce_add_ps(a) dlcore_emu::reduce_add_ps(a)
#undef _mm512_reduce_max_ps
#define _mm512_reduce_max_ps(a) dlcore_emu::reduce_max_ps(a)
#undef _mm512_rsqrt14_ps
#define _mm512_rsqrt14_ps(a) dlcore_emu::rsqrt14_ps(a)
#undef _mm512_shuffle_epi32
#define _mm512_shuffle_epi32(a, imm) dlcore_emu::shuffle_epi32(a, int(imm))
#undef _mm512_srai_epi32
#define _mm512_srai_epi32(a, imm) dlcore_emu::srai_epi32(a, unsigned(imm))
#undef _mm512_stream_ps
#define _mm512_stream_ps(p, a) dlcore_emu::stream_ps(p, a)
#undef _mm512_load_ps
#define _mm512_load_ps(p) dlcore_emu::load_ps(p)
#undef _mm512_store_ps
#define _mm512_store_ps(p, a) dlcore_emu::store_ps(p, a)

#undef _mm512_cvtne2ps_pbh
#define _mm512_cvtne2ps_pbh(a, b) dlcore_emu::cvtne2ps_pbh(a, b)
#undef _mm512_cvtneps_pbh
#define _mm512_cvtneps_pbh(a) dlcore_emu::cvtneps_pbh(a)
#undef _mm512_dpbf16_ps
#define _mm512_dpbf16_ps(src, a, b) dlcore_emu::dpbf16_ps(src, a, b)
#undef _mm256_dpbusd_avx_epi32
#define _mm256_dpbusd_avx_epi32(src, a, b) dlcore_emu::dpbusd_avx_epi32(src, a, b)

#include "core/emulate/amx_emulator.h"
