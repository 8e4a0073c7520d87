// vdpbf16ps peak probe: 12 independent accumulator chains (latency 5-6
// cycles x 2 ports). NOT RUN HERE: the development machine lacks AVX512-BF16.
#include <immintrin.h>

#include "core/peak_bf16.h"

namespace dlcore {

double bf16_chain_avx512bf16(int64_t iterations) {
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3c003c00), y = (__m512bh)_mm512_set1_epi32(0x3c003c00);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(kChains) * 16 * 2 * 2 * double(iterations);
}

}  // namespace dlcore
