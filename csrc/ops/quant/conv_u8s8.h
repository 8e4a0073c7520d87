// int8 convolution: y (int32, NCHW) = sum (x - x_zero_point) * w over the
// window, x uint8 NCHW, w int8 OIHW (I = input channels per group); taps
// outside the image contribute 0, exactly as zero padding of the real-valued
// input (the padded u8 value is the zero point itself). Geometry: ConvShape
// of ops/conv/conv.h.
#pragma once
#include <cstdint>

#include "dispatch/registry.h"
#include "ops/conv/conv.h"

namespace dlcore {

struct ConvS8Args {
  ConvShape s;
  const uint8_t* x = nullptr;  // (N, IC, IH, IW)
  const int8_t* w = nullptr;   // (OC, IC/groups, KH, KW)
  int32_t* y = nullptr;        // (N, OC, OH, OW)
  int x_zero_point = 0;
  bool w_is_7bit = false;  // every weight in [-64, 63] (see gemm_s8.h)
};

const Registry<ConvS8Args>& conv2d_u8s8_registry();

// The direct AVX2 kernel for few output channels per group
// (conv_u8s8_direct_avx2.cpp); its registry entry declines what it cannot run.
void conv2d_u8s8_direct_avx2(const ConvS8Args& a);

}  // namespace dlcore
