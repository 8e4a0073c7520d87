// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 mantissa
// bits), stored as uint16_t. Python sees it as ml_dtypes.bfloat16.
//
// One rounding rule everywhere (the scalar code here, the AVX2 vectors below,
// the reference, the GEMM epilogues): round to nearest, ties to even; NaN
// becomes the quiet NaN sign|0x7FC0, exactly as ml_dtypes (Eigen's
// float_to_bfloat16_rtne) does, so results compare bit for bit. Infinities
// stay infinite; values above bf16's largest finite value round to infinity.
// (The AVX512-BF16 instruction vcvtne2ps2bf16 differs in two documented ways:
// it flushes float32 subnormals to zero and keeps a NaN's payload bits.)
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace dlcore {

using bf16_t = uint16_t;

// Anonymous namespace: this header is compiled into files with different ISA
// flags, and an inline function the linker merged across them could run AVX
// code on a baseline path.
namespace {

inline float bf16_to_f32(bf16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline bf16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t(((u >> 16) & 0x8000u) | 0x7fc0u);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // ties to even: add half an ulp, minus one when the kept lsb is 0
  return bf16_t(u >> 16);
}

#if defined(__AVX2__)
// 8 bfloat16 -> 8 float32 (exact: a shift).
inline __m256 bf16x8_to_f32(const bf16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// 8 float32 -> 8 bfloat16, the rule of f32_to_bf16 lane by lane.
inline __m128i f32x8_to_bf16(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
  const __m256i nan =
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)), _mm256_set1_epi32(0x7fc0));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  r = _mm256_blendv_epi8(r, nan, is_nan);
  // Every lane is <= 0xffff, so the unsigned-saturating pack is exact.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
#endif

// dst[i] = float(src[i]) for i < n (vectorized where AVX2 is compiled in).
inline void bf16_to_f32_row(const bf16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, bf16x8_to_f32(src + i));
#endif
  for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

// dst[i] = bf16(src[i]) for i < n.
inline void f32_to_bf16_row(const float* src, int64_t n, bf16_t* dst) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), f32x8_to_bf16(_mm256_loadu_ps(src + i)));
#endif
  for (; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace
}  // namespace dlcore
