// AVX2 quantize / requantize / dequantize (ops/quant/quantize.h), 8 floats a
// step. Exactness vs NumPy: vdivps (not a reciprocal), vroundps to nearest
// even (= rint), and the product kept out of an FMA by an empty asm barrier
// (this file is compiled with -mfma and GCC contracts a * b + c by default).
// The clamps use max(v, lo) first: vmaxps returns its second operand for a
// NaN, so NaN -> lo.
#include <immintrin.h>

#include "core/parallel.h"
#include "ops/quant/quantize.h"

namespace dlcore {
namespace {

inline __m256 no_fma(__m256 p) {
  __asm__("" : "+x"(p));
  return p;
}

inline __m256 round_even(__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

// 8 clamped floats (integral, in [0, 255]) -> 8 bytes at q.
inline void store8_u8(uint8_t* q, __m256 v) {
  const __m256i i32 = _mm256_cvttps_epi32(v);
  const __m128i lo = _mm256_castsi256_si128(i32), hi = _mm256_extracti128_si256(i32, 1);
  const __m128i i16 = _mm_packus_epi32(lo, hi);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(q), _mm_packus_epi16(i16, i16));
}

inline __m256 clamp(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(_mm256_max_ps(v, lo), hi); }

inline float clamp1(float v, float lo, float hi) { return v >= lo ? (v <= hi ? v : hi) : lo; }

inline float rint1(float v) {
  return _mm_cvtss_f32(_mm_round_ss(_mm_setzero_ps(), _mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

inline float mul1(float a, float b) {
  __m128 p = _mm_mul_ss(_mm_set_ss(a), _mm_set_ss(b));
  __asm__("" : "+x"(p));
  return _mm_cvtss_f32(p);
}

// requantize/dequantize of one run of n values sharing the channel (inner > 1)
// or one row of n channels (inner == 1): mult/offset broadcast or loaded.
template <bool Requant, bool PerLane>
void affine_run(const int32_t* acc, int64_t n, const float* mult, const float* offset, float lo, bool relu, uint8_t* q,
                float* y) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(255.0f), zero = _mm256_setzero_ps();
  const __m256 mb = _mm256_set1_ps(mult[0]), ob = _mm256_set1_ps(offset[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 m = PerLane ? _mm256_loadu_ps(mult + i) : mb;
    const __m256 o = PerLane ? _mm256_loadu_ps(offset + i) : ob;
    const __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i)));
    const __m256 v = _mm256_add_ps(no_fma(_mm256_mul_ps(a, m)), o);
    if (Requant)
      store8_u8(q + i, clamp(round_even(v), vlo, vhi));
    else
      _mm256_storeu_ps(y + i, relu ? _mm256_max_ps(v, zero) : v);
  }
  for (; i < n; ++i) {
    const float m = PerLane ? mult[i] : mult[0], o = PerLane ? offset[i] : offset[0];
    const float v = mul1(float(acc[i]), m) + o;
    if (Requant)
      q[i] = uint8_t(clamp1(rint1(v), lo, 255.0f));
    else
      y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}

template <bool Requant>
void affine(const RequantizeArgs& a) {
  const float lo = float(a.lo);
  if (a.inner == 1) {  // (M, N): a row holds every channel
    parallel_units(a.outer, a.outer * a.channels * 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        affine_run<Requant, true>(a.acc + r * a.channels, a.channels, a.mult, a.offset, lo, a.relu,
                                  a.q ? a.q + r * a.channels : nullptr, a.y ? a.y + r * a.channels : nullptr);
    });
    return;
  }
  const int64_t rows = a.outer * a.channels;  // (N, C, HW): a row is one channel's plane
  parallel_units(rows, rows * a.inner * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % a.channels;
      affine_run<Requant, false>(a.acc + r * a.inner, a.inner, a.mult + c, a.offset + c, lo, a.relu,
                                 a.q ? a.q + r * a.inner : nullptr, a.y ? a.y + r * a.inner : nullptr);
    }
  });
}

}  // namespace

void quantize_u8_avx2(const QuantizeArgs& a) {
  const __m256 s = _mm256_set1_ps(a.scale), zp = _mm256_set1_ps(float(a.zero_point));
  const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
  parallel_units(a.size, a.size * 4, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
      const __m256 v = _mm256_add_ps(round_even(_mm256_div_ps(_mm256_loadu_ps(a.x + i), s)), zp);
      store8_u8(a.q + i, clamp(v, lo, hi));
    }
    for (; i < i1; ++i) a.q[i] = uint8_t(clamp1(rint1(a.x[i] / a.scale) + float(a.zero_point), 0.0f, 255.0f));
  });
}

void requantize_u8_avx2(const RequantizeArgs& a) { affine<true>(a); }
void dequantize_s32_avx2(const RequantizeArgs& a) { affine<false>(a); }

}  // namespace dlcore
