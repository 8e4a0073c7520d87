// float32 -> bfloat16 with vcvtne2ps2bf16 (AVX512-BF16): 32 floats per
// instruction, round to nearest even. The instruction flushes float32
// subnormal inputs to zero and keeps a NaN's payload (quietened), where the
// scalar rule (core/bf16.h, ml_dtypes) rounds subnormals and returns the
// canonical NaN: results differ from ml_dtypes only for those inputs.
// NOT RUN HERE: the development machine (AMD Zen, AVX2) lacks AVX512-BF16.
#include <immintrin.h>

#include "core/bf16.h"
#include "ops/cast/cast.h"

namespace dlcore {

void cast_f32_to_bf16_avx512bf16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // vcvtne2ps2bf16 puts its second operand in the low half.
    __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, (__m512i)r);
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace dlcore
