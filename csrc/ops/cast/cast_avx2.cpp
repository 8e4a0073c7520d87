// float32 <-> bfloat16 with AVX2 (8 lanes; core/bf16.h's vector helpers).
#include "core/bf16.h"
#include "ops/cast/cast.h"

namespace dlcore {

void cast_f32_to_bf16_avx2(const float* src, uint16_t* dst, int64_t n) { f32_to_bf16_row(src, n, dst); }
void cast_bf16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n) { bf16_to_f32_row(src, n, dst); }

}  // namespace dlcore
