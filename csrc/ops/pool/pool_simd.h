// Vector primitives pooling needs beyond core/simd.h: loads of every s-th
// float (a window column for `width` consecutive outputs at stride s), int32
// index registers, and the "takes" comparison of the running max.
//
// Like core/simd.h, everything is in an anonymous namespace: each ISA's
// translation unit gets its own copy (no AVX code leaks to baseline callers).
#pragma once
#include <cstdint>

#include "core/simd.h"

namespace dlcore {
namespace pool {
namespace {

// PoolVec<V>::load_strided<S>(p, gather): lanes j = p[j * s]. S is 1 or 2
// (specialized, no gather) or 0 (any stride, through `gather`). Never reads
// past p[(width - 1) * s].
template <class V>
struct PoolVec;

template <>
struct PoolVec<simd::Scalar> {
  using reg = float;
  using ireg = int32_t;
  using mask = bool;
  using gather_t = int;
  static DLCORE_INLINE gather_t gather_offsets(int) { return 0; }
  template <int S>
  static DLCORE_INLINE reg load_strided(const float* p, gather_t) {
    return *p;
  }
  static DLCORE_INLINE ireg lane_offsets(int) { return 0; }
  static DLCORE_INLINE ireg iset1(int32_t v) { return v; }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return a + b; }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { *p = v; }
  // The max-pool rule, written once: v replaces the running max `best` when
  // it is larger, or when it is the first NaN (NaN propagates; ties and later
  // NaNs keep the first, lowest index).
  static DLCORE_INLINE mask takes(reg v, reg best) { return v > best || (v != v && best == best); }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return m ? a : b; }
  static DLCORE_INLINE ireg iselect(mask m, ireg a, ireg b) { return m ? a : b; }
};

#if defined(__AVX2__) && defined(__FMA__)
template <>
struct PoolVec<simd::Avx2> {
  using reg = __m256;
  using ireg = __m256i;
  using mask = __m256;
  using gather_t = __m256i;
  static DLCORE_INLINE ireg lane_offsets(int s) {
    return _mm256_mullo_epi32(_mm256_set1_epi32(s), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static DLCORE_INLINE gather_t gather_offsets(int s) { return lane_offsets(s); }
  template <int S>
  static DLCORE_INLINE reg load_strided(const float* p, gather_t g) {
    if constexpr (S == 1) {
      return _mm256_loadu_ps(p);
    } else if constexpr (S == 2) {
      // a = p[0..7], b = p[7..14]: the even elements of a and the odd of b
      // are p[0], p[2], ..., p[14]; b starts at 7 so nothing past p[14] is read.
      __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 7);
      __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 2, 0));  // p0 p2 p8 p10 | p4 p6 p12 p14
      return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
    } else {
      return _mm256_i32gather_ps(p, g, 4);
    }
  }
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static DLCORE_INLINE mask takes(reg v, reg best) {
    __m256 greater = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
    __m256 first_nan = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
    return _mm256_or_ps(greater, first_nan);
  }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return _mm256_blendv_ps(b, a, m); }
  static DLCORE_INLINE ireg iselect(mask m, ireg a, ireg b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
  }
};
#endif

#if defined(__AVX512F__) || defined(DLCORE_ISA_EMULATED)  // emulated: core/emulate
template <>
struct PoolVec<simd::Avx512> {
  using reg = __m512;
  using ireg = __m512i;
  using mask = __mmask16;
  using gather_t = __m512i;
  static DLCORE_INLINE ireg lane_offsets(int s) {
    return _mm512_mullo_epi32(_mm512_set1_epi32(s),
                              _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  }
  static DLCORE_INLINE gather_t gather_offsets(int s) { return lane_offsets(s); }
  template <int S>
  static DLCORE_INLINE reg load_strided(const float* p, gather_t g) {
    if constexpr (S == 1) {
      return _mm512_loadu_ps(p);
    } else if constexpr (S == 2) {
      // a = p[0..15], b = p[15..30]: lanes 0-7 from a's even elements, lanes
      // 8-15 from b's odd ones (p[16], ..., p[30]); nothing past p[30] is read.
      __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 15);
      const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);
      return _mm512_permutex2var_ps(a, idx, b);
    } else {
      return _mm512_i32gather_ps(g, p, 4);
    }
  }
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static DLCORE_INLINE void istore(int32_t* p, ireg v) { _mm512_storeu_si512(p, v); }
  static DLCORE_INLINE mask takes(reg v, reg best) {
    __mmask16 greater = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
    __mmask16 first_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
    return greater | first_nan;
  }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return _mm512_mask_blend_ps(m, b, a); }
  static DLCORE_INLINE ireg iselect(mask m, ireg a, ireg b) { return _mm512_mask_blend_epi32(m, b, a); }
};
#endif

}  // namespace
}  // namespace pool
}  // namespace dlcore
