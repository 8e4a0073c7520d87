// AVX-512 VPOPCNTDQ peak probe: XOR + vpopcntq + vpaddq on zmm (512 binary
// multiply-adds each). NOT RUN HERE (no AVX-512 on the development machine).
#include <immintrin.h>

#include "ops/quant/peak_lowbit.h"
#include "ops/quant/peak_lowbit_kernel.h"

namespace dlcore {

double peak_loop_avx512vpopcnt(int64_t iterations, double* macs) {
  const __m512i x = _mm512_set1_epi8(0x5a);
  __m512i r = peak_chains(iterations, _mm512_set1_epi8(0x33), _mm512_setzero_si512(), [&](__m512i acc, __m512i w) {
    return _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, w)));
  });
  *macs = double(iterations) * kPeakChains * 512;
  return double(_mm_cvtsi128_si64(_mm512_castsi512_si128(r)));
}

}  // namespace dlcore
