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
#include <cstdint>
#include <cmath>

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
  static DLCORE_INLINE void store_partial(float* p, reg v, int n) { if (n > 0) *p = v; }
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
};
#endif

#if defined(__AVX512F__)
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
};
#endif

}  // namespace
}  // namespace simd
}  // namespace dlcore
