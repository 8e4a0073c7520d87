// float32 <-> bfloat16 conversion (core/bf16.h has the rounding rule):
// round to nearest even, NaN kept NaN. One registry per direction.
#pragma once
#include <cstdint>

#include "dispatch/registry.h"

namespace dlcore {

struct CastF32ToBf16Args {
  const float* src = nullptr;
  uint16_t* dst = nullptr;
  int64_t n = 0;
};
struct CastBf16ToF32Args {
  const uint16_t* src = nullptr;
  float* dst = nullptr;
  int64_t n = 0;
};

const Registry<CastF32ToBf16Args>& cast_f32_to_bf16_registry();
const Registry<CastBf16ToF32Args>& cast_bf16_to_f32_registry();

// Per-ISA loops over [0, n) on the calling thread (cast.cpp splits the threads).
void cast_f32_to_bf16_avx2(const float* src, uint16_t* dst, int64_t n);
void cast_bf16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n);
void cast_f32_to_bf16_avx512bf16(const float* src, uint16_t* dst, int64_t n);

}  // namespace dlcore
