// Quantization arithmetic of the int8 layers (dlcore.quantization), in C++ so
// a quantized model never leaves the kernels between layers:
//
//   quantize_u8      q = clip(rint(x / scale) + zp, 0, 255)          float32 -> uint8
//   requantize_u8    q = clip(rint(float(acc) * mult[c] + offset[c]), lo, 255)
//                                                                     int32 -> uint8
//   dequantize_s32   y = float(acc) * mult[c] + bias[c], then max(y, 0) if relu
//                                                                     int32 -> float32
//
// Each is exactly the NumPy formula of python/dlcore/quantization (float32
// division, not a reciprocal; a rounded product then a rounded sum, never an
// FMA; rint = round half to even; saturation by the clip). A NaN input gives
// 0 (NumPy leaves that cast undefined). c is the channel of a (outer, C,
// inner) view: inner = 1 for a Linear's (M, N), H*W for a conv's NCHW.
#pragma once
#include <cstdint>

#include "dispatch/registry.h"

namespace dlcore {

struct QuantizeArgs {
  const float* x = nullptr;
  uint8_t* q = nullptr;
  int64_t size = 0;
  float scale = 1.0f;
  int zero_point = 0;
};

struct RequantizeArgs {
  const int32_t* acc = nullptr;
  int64_t outer = 0, channels = 0, inner = 0;
  const float* mult = nullptr;    // (channels,)
  const float* offset = nullptr;  // (channels,): requantize's bias / s_out + zp; dequantize's bias
  uint8_t* q = nullptr;           // requantize_u8's output
  float* y = nullptr;             // dequantize_s32's output
  int lo = 0;                     // requantize: the clip's lower end (the zero point for a fused ReLU)
  bool relu = false;              // dequantize: max(y, 0)
};

const Registry<QuantizeArgs>& quantize_u8_registry();
const Registry<RequantizeArgs>& requantize_u8_registry();
const Registry<RequantizeArgs>& dequantize_s32_registry();

// The AVX2 kernels (quantize_avx2.cpp).
void quantize_u8_avx2(const QuantizeArgs& a);
void requantize_u8_avx2(const RequantizeArgs& a);
void dequantize_s32_avx2(const RequantizeArgs& a);

}  // namespace dlcore
