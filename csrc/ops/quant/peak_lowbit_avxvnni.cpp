// AVX-VNNI peak probe: the VEX vpdpbusd on ymm. NOT RUN HERE (no AVX-VNNI).
#include <immintrin.h>

#include "ops/quant/peak_lowbit.h"
#include "ops/quant/peak_lowbit_kernel.h"

namespace dlcore {

double peak_loop_avxvnni(int64_t iterations, double* macs) {
  const __m256i a = _mm256_set1_epi8(3);
  __m256i r = peak_chains(iterations, _mm256_set1_epi8(2), _mm256_setzero_si256(),
                          [&](__m256i acc, __m256i b) { return _mm256_dpbusd_avx_epi32(acc, a, b); });
  *macs = double(iterations) * kPeakChains * 32;
  return double(_mm256_extract_epi32(r, 0));
}

}  // namespace dlcore
