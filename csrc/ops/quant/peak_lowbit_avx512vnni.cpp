// AVX512-VNNI peak probe: vpdpbusd on zmm (64 u8 x s8 multiply-adds each).
// NOT RUN HERE (no AVX-512 on the development machine).
#include <immintrin.h>

#include "ops/quant/peak_lowbit.h"
#include "ops/quant/peak_lowbit_kernel.h"

namespace dlcore {

double peak_loop_avx512vnni(int64_t iterations, double* macs) {
  const __m512i a = _mm512_set1_epi8(3);
  __m512i r = peak_chains(iterations, _mm512_set1_epi8(2), _mm512_setzero_si512(),
                          [&](__m512i acc, __m512i b) { return _mm512_dpbusd_epi32(acc, a, b); });
  *macs = double(iterations) * kPeakChains * 64;
  return double(_mm_cvtsi128_si32(_mm512_castsi512_si128(r)));
}

}  // namespace dlcore
