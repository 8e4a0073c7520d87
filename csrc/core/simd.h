// SIMD vector traits: the one abstraction every CPU kernel is written against.
//
// Kernels are templates over a vector type V (Scalar, Avx2, Avx512) so that one
// body serves every ISA (DESIGN.md convention 3). Include this header only from
// the translation unit of the ISA you instantiate: `Avx2` exists only where the
// file is compiled with -mavx2 -mfma (*_avx2.cpp), `Avx512` only in
// *_avx512.cpp.
//
// Everything here sits in an anonymous namespace on purpose: each translation
// unit gets its own internal copy, and so does every kernel template
// instantiated with these types. Code compiled with AVX-512 flags can therefore
// never be merged by the linker into code that runs on a baseline CPU (the
// classic ODR trap of per-file ISA flags).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#define DLCORE_INLINE inline __attribute__((always_inline))

namespace dlcore {
namespace simd {
namespace {

// Width-1 "vector": the portable reference path and the scalar tails.
struct Scalar {
  using reg = float;
  static constexpr int width = 1;
  static DLCORE_INLINE reg zero() { return 0.0f; }
  static DLCORE_INLINE reg set1(float x) { return x; }
  static DLCORE_INLINE reg load(const float* p) { return *p; }
  static DLCORE_INLINE void store(float* p, reg v) { *p = v; }
  static DLCORE_INLINE reg load_partial(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static DLCORE_INLINE void store_partial(float* p, reg v, int n) {
    if (n > 0) *p = v;
  }
  static DLCORE_INLINE reg add(reg a, reg b) { return a + b; }
  static DLCORE_INLINE reg sub(reg a, reg b) { return a - b; }
  static DLCORE_INLINE reg mul(reg a, reg b) { return a * b; }
  static DLCORE_INLINE reg div(reg a, reg b) { return a / b; }
  static DLCORE_INLINE reg fmadd(reg a, reg b, reg c) { return a * b + c; }
  static DLCORE_INLINE reg max(reg a, reg b) { return a > b ? a : b; }
  static DLCORE_INLINE reg min(reg a, reg b) { return a < b ? a : b; }
  static DLCORE_INLINE reg sqrt(reg a) { return std::sqrt(a); }
  static DLCORE_INLINE float reduce_add(reg a) { return a; }
  static DLCORE_INLINE float reduce_max(reg a) { return a; }

  // ---- comparisons, selection and bit tricks (the vectorized math needs them) ----
  using cmask = bool;  // result of a comparison: one flag per lane
  static DLCORE_INLINE cmask cmp_lt(reg a, reg b) { return a < b; }
  static DLCORE_INLINE cmask cmp_le(reg a, reg b) { return a <= b; }
  static DLCORE_INLINE cmask cmp_gt(reg a, reg b) { return a > b; }
  static DLCORE_INLINE cmask cmp_ge(reg a, reg b) { return a >= b; }
  static DLCORE_INLINE cmask cmp_eq(reg a, reg b) { return a == b; }
  static DLCORE_INLINE cmask is_nan(reg a) { return a != a; }
  static DLCORE_INLINE cmask mask_or(cmask a, cmask b) { return a || b; }
  // m ? a : b, lane by lane.
  static DLCORE_INLINE reg select(cmask m, reg a, reg b) { return m ? a : b; }
  static DLCORE_INLINE reg abs(reg a) { return std::fabs(a); }
  static DLCORE_INLINE reg copysign(reg mag, reg sign) { return std::copysign(mag, sign); }
  static DLCORE_INLINE reg fnmadd(reg a, reg b, reg c) { return c - a * b; }
  // Round to nearest, ties to even (the default rounding mode).
  static DLCORE_INLINE reg round(reg a) { return std::nearbyint(a); }

  // ---- 32-bit integer lanes (exponent tricks, counter-based RNG, masks) ----
  using ireg = int32_t;
  static DLCORE_INLINE ireg iset1(int32_t v) { return v; }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return int32_t(uint32_t(a) + uint32_t(b)); }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return int32_t(uint32_t(a) - uint32_t(b)); }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return a & b; }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return a | b; }
  static DLCORE_INLINE ireg ixor(ireg a, ireg b) { return a ^ b; }
  template <int k>
  static DLCORE_INLINE ireg ishl(ireg a) {
    return int32_t(uint32_t(a) << k);
  }
  template <int k>
  static DLCORE_INLINE ireg isrl(ireg a) {
    return int32_t(uint32_t(a) >> k);
  }
  template <int k>
  static DLCORE_INLINE ireg isra(ireg a) {
    return a >> k;
  }
  static DLCORE_INLINE cmask icmp_gt(ireg a, ireg b) { return a > b; }
  // Float <-> int conversion (round to nearest) and bit reinterpretation.
  static DLCORE_INLINE ireg cvt_to_int(reg a) { return int32_t(std::nearbyint(a)); }
  static DLCORE_INLINE reg cvt_to_float(ireg a) { return float(a); }
  static DLCORE_INLINE ireg bits_of(reg a) {
    ireg i;
    __builtin_memcpy(&i, &a, 4);
    return i;
  }
  static DLCORE_INLINE reg float_of(ireg a) {
    reg f;
    __builtin_memcpy(&f, &a, 4);
    return f;
  }
  static DLCORE_INLINE ireg iload(const int32_t* p) { return *p; }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { *p = v; }
  // Zero-extend `width` bytes to lanes.
  static DLCORE_INLINE ireg load_u8(const uint8_t* p) { return *p; }
  // a where m is set, +0 elsewhere.
  static DLCORE_INLINE reg zero_unless(cmask m, reg a) { return m ? a : 0.0f; }
  // 4 * width flags (consecutive runs of `width` lanes) as 0/1 bytes.
  static DLCORE_INLINE void store_flags_u8x4(uint8_t* p, cmask a, cmask b, cmask c, cmask d) {
    p[0] = a;
    p[1] = b;
    p[2] = c;
    p[3] = d;
  }
  // Non-temporal store (bypasses the cache for large outputs; p aligned to width*4).
  static DLCORE_INLINE void stream(float* p, reg v) { *p = v; }
  static DLCORE_INLINE void stream_fence() {}
};

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  using reg = __m256;
  static constexpr int width = 8;
  static DLCORE_INLINE reg zero() { return _mm256_setzero_ps(); }
  static DLCORE_INLINE reg set1(float x) { return _mm256_set1_ps(x); }
  static DLCORE_INLINE reg load(const float* p) { return _mm256_loadu_ps(p); }
  static DLCORE_INLINE void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) are live; masked-off lanes are neither read nor written.
  static DLCORE_INLINE __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static DLCORE_INLINE reg load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static DLCORE_INLINE void store_partial(float* p, reg v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static DLCORE_INLINE reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static DLCORE_INLINE reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static DLCORE_INLINE reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static DLCORE_INLINE reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static DLCORE_INLINE reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  // NaN-propagating like the scalar `a > b ? a : b` is not; kernels that must
  // propagate NaN handle it explicitly.
  static DLCORE_INLINE reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static DLCORE_INLINE reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static DLCORE_INLINE reg sqrt(reg a) { return _mm256_sqrt_ps(a); }
  static DLCORE_INLINE float reduce_add(reg a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static DLCORE_INLINE float reduce_max(reg a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  using cmask = __m256;  // all-ones lanes where true
  static DLCORE_INLINE cmask cmp_lt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static DLCORE_INLINE cmask cmp_le(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static DLCORE_INLINE cmask cmp_gt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static DLCORE_INLINE cmask cmp_ge(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static DLCORE_INLINE cmask cmp_eq(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static DLCORE_INLINE cmask is_nan(reg a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static DLCORE_INLINE cmask mask_or(cmask a, cmask b) { return _mm256_or_ps(a, b); }
  static DLCORE_INLINE reg select(cmask m, reg a, reg b) { return _mm256_blendv_ps(b, a, m); }
  static DLCORE_INLINE reg abs(reg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static DLCORE_INLINE reg copysign(reg mag, reg sign) {
    const reg s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sign));
  }
  static DLCORE_INLINE reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  static DLCORE_INLINE reg round(reg a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

  using ireg = __m256i;
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return _mm256_sub_epi32(a, b); }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return _mm256_and_si256(a, b); }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return _mm256_or_si256(a, b); }
  static DLCORE_INLINE ireg ixor(ireg a, ireg b) { return _mm256_xor_si256(a, b); }
  template <int k>
  static DLCORE_INLINE ireg ishl(ireg a) {
    return _mm256_slli_epi32(a, k);
  }
  template <int k>
  static DLCORE_INLINE ireg isrl(ireg a) {
    return _mm256_srli_epi32(a, k);
  }
  template <int k>
  static DLCORE_INLINE ireg isra(ireg a) {
    return _mm256_srai_epi32(a, k);
  }
  static DLCORE_INLINE cmask icmp_gt(ireg a, ireg b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)); }
  static DLCORE_INLINE ireg cvt_to_int(reg a) { return _mm256_cvtps_epi32(a); }
  static DLCORE_INLINE reg cvt_to_float(ireg a) { return _mm256_cvtepi32_ps(a); }
  static DLCORE_INLINE ireg bits_of(reg a) { return _mm256_castps_si256(a); }
  static DLCORE_INLINE reg float_of(ireg a) { return _mm256_castsi256_ps(a); }
  static DLCORE_INLINE ireg iload(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static DLCORE_INLINE ireg load_u8(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  // ---- 64-bit lanes over the same register (Philox's 32x32->64 multiplies) ----
  // Full 64-bit products of the even 32-bit lanes (the odd lanes are ignored).
  static DLCORE_INLINE ireg imul_even_u32(ireg a, ireg b) { return _mm256_mul_epu32(a, b); }
  // The high (odd) 32-bit half of each 64-bit lane copied into the low one,
  // and the low into the high: shuffles, which Zen 1 runs twice as fast as
  // 64-bit shifts (its single vector-shift pipe).
  static DLCORE_INLINE ireg ihigh_to_low64(ireg a) { return _mm256_shuffle_epi32(a, 0xF5); }
  static DLCORE_INLINE ireg ilow_to_high64(ireg a) { return _mm256_shuffle_epi32(a, 0xA0); }
  // Even 32-bit lanes from `even`, odd ones from `odd`.
  static DLCORE_INLINE ireg iblend_odd(ireg even, ireg odd) { return _mm256_blend_epi32(even, odd, 0xAA); }
  static DLCORE_INLINE reg zero_unless(cmask m, reg a) { return _mm256_and_ps(m, a); }
  // 4 * width flags (a, b, c, d: consecutive runs of `width` lanes) as 0/1 bytes.
  static DLCORE_INLINE void store_flags_u8x4(uint8_t* p, cmask a, cmask b, cmask c, cmask d) {
    // packs keep 0/-1 and interleave per 128-bit half: [a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 ...];
    // the dword permutation restores a0-7 b0-7 c0-7 d0-7.
    __m256i ab = _mm256_packs_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b));
    __m256i cd = _mm256_packs_epi32(_mm256_castps_si256(c), _mm256_castps_si256(d));
    __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_and_si256(bytes, _mm256_set1_epi8(1)));
  }
  static DLCORE_INLINE void stream(float* p, reg v) { _mm256_stream_ps(p, v); }
  static DLCORE_INLINE void stream_fence() { _mm_sfence(); }
};
// dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block: 8 loads, 24 shuffles,
// 8 stores instead of 64 scattered floats (GEMM packing, depthwise blocks).
DLCORE_INLINE void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

#if defined(__AVX512F__) || defined(DLCORE_ISA_EMULATED)  // emulated: core/emulate
struct Avx512 {
  using reg = __m512;
  static constexpr int width = 16;
  static DLCORE_INLINE reg zero() { return _mm512_setzero_ps(); }
  static DLCORE_INLINE reg set1(float x) { return _mm512_set1_ps(x); }
  static DLCORE_INLINE reg load(const float* p) { return _mm512_loadu_ps(p); }
  static DLCORE_INLINE void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static DLCORE_INLINE __mmask16 mask(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n < 0 ? 0 : n)) - 1u);
  }
  static DLCORE_INLINE reg load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static DLCORE_INLINE void store_partial(float* p, reg v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static DLCORE_INLINE reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static DLCORE_INLINE reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static DLCORE_INLINE reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static DLCORE_INLINE reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static DLCORE_INLINE reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static DLCORE_INLINE reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static DLCORE_INLINE reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static DLCORE_INLINE reg sqrt(reg a) { return _mm512_sqrt_ps(a); }
  static DLCORE_INLINE float reduce_add(reg a) { return _mm512_reduce_add_ps(a); }
  static DLCORE_INLINE float reduce_max(reg a) { return _mm512_reduce_max_ps(a); }

  using cmask = __mmask16;
  static DLCORE_INLINE cmask cmp_lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static DLCORE_INLINE cmask cmp_le(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static DLCORE_INLINE cmask cmp_gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static DLCORE_INLINE cmask cmp_ge(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static DLCORE_INLINE cmask cmp_eq(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static DLCORE_INLINE cmask is_nan(reg a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static DLCORE_INLINE cmask mask_or(cmask a, cmask b) { return cmask(a | b); }
  static DLCORE_INLINE reg select(cmask m, reg a, reg b) { return _mm512_mask_blend_ps(m, b, a); }
  static DLCORE_INLINE reg abs(reg a) { return _mm512_abs_ps(a); }
  static DLCORE_INLINE reg copysign(reg mag, reg sign) {
    const __m512i s = _mm512_set1_epi32(int32_t(0x80000000u));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(s, _mm512_castps_si512(mag)),
                                               _mm512_and_si512(s, _mm512_castps_si512(sign))));
  }
  static DLCORE_INLINE reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static DLCORE_INLINE reg round(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }

  using ireg = __m512i;
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return _mm512_sub_epi32(a, b); }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return _mm512_and_si512(a, b); }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return _mm512_or_si512(a, b); }
  static DLCORE_INLINE ireg ixor(ireg a, ireg b) { return _mm512_xor_si512(a, b); }
  template <int k>
  static DLCORE_INLINE ireg ishl(ireg a) {
    return _mm512_slli_epi32(a, k);
  }
  template <int k>
  static DLCORE_INLINE ireg isrl(ireg a) {
    return _mm512_srli_epi32(a, k);
  }
  template <int k>
  static DLCORE_INLINE ireg isra(ireg a) {
    return _mm512_srai_epi32(a, k);
  }
  static DLCORE_INLINE cmask icmp_gt(ireg a, ireg b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static DLCORE_INLINE ireg cvt_to_int(reg a) { return _mm512_cvtps_epi32(a); }
  static DLCORE_INLINE reg cvt_to_float(ireg a) { return _mm512_cvtepi32_ps(a); }
  static DLCORE_INLINE ireg bits_of(reg a) { return _mm512_castps_si512(a); }
  static DLCORE_INLINE reg float_of(ireg a) { return _mm512_castsi512_ps(a); }
  static DLCORE_INLINE ireg iload(const int32_t* p) { return _mm512_loadu_si512(p); }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { _mm512_storeu_si512(p, v); }
  static DLCORE_INLINE ireg load_u8(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // ---- 64-bit lanes over the same register (Philox's 32x32->64 multiplies) ----
  static DLCORE_INLINE ireg imul_even_u32(ireg a, ireg b) { return _mm512_mul_epu32(a, b); }
  static DLCORE_INLINE ireg ihigh_to_low64(ireg a) { return _mm512_shuffle_epi32(a, _MM_PERM_DDBB); }
  static DLCORE_INLINE ireg ilow_to_high64(ireg a) { return _mm512_shuffle_epi32(a, _MM_PERM_CCAA); }
  static DLCORE_INLINE ireg iblend_odd(ireg even, ireg odd) { return _mm512_mask_blend_epi32(0xAAAA, even, odd); }
  static DLCORE_INLINE reg zero_unless(cmask m, reg a) { return _mm512_maskz_mov_ps(m, a); }
  static DLCORE_INLINE void store_flags_u8x4(uint8_t* p, cmask a, cmask b, cmask c, cmask d) {
    const __mmask64 all = __mmask64(a) | (__mmask64(b) << 16) | (__mmask64(c) << 32) | (__mmask64(d) << 48);
    _mm512_storeu_si512(p, _mm512_maskz_mov_epi8(all, _mm512_set1_epi8(1)));
  }
  static DLCORE_INLINE void stream(float* p, reg v) { _mm512_stream_ps(p, v); }
  static DLCORE_INLINE void stream_fence() { _mm_sfence(); }
};
#endif

// The first n (1..width) lanes of v to p, through a small buffer rather than
// a masked store: those are microcoded on AMD cores and block store
// forwarding to later loads.
template <class V>
DLCORE_INLINE void store_first(float* p, typename V::reg v, int n) {
  if (n == V::width) {
    V::store(p, v);
    return;
  }
  alignas(64) float lanes[V::width];
  V::store(lanes, v);
  for (int i = 0; i < n; ++i) p[i] = lanes[i];
}

}  // namespace
}  // namespace simd
}  // namespace dlcore
