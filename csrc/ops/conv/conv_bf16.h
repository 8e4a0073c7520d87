// bfloat16 convolution (the bf16 column of conv2d_forward / _backward_data /
// _backward_weights): bf16 activations, weights and dy; float32 accumulation;
// float32 y, dx, dw and db. Geometry and checks are those of the float32 op
// (bindings/bind_conv.cpp builds the ConvShape; bind_conv_bf16.cpp the rest).
//
// One algorithm, per ISA of the bf16 GEMM: implicit GEMM through a bf16
// im2col buffer per (image, group), then the bf16 GEMM of that ISA (AMX
// tiles, vdpbf16ps, or bf16 -> float32 while packing):
//   forward        y[n, g]   = W_g (OCg x K) . cols (K x OH*OW)
//   backward data  dcols     = W_g^T . dy[n, g], scattered back (col2im)
//   backward wts   dW_g     += dy[n, g] . cols^T          (images in order)
// with K = ICg*KH*KW. A 1x1, stride-1, unpadded convolution uses the input
// (or dx) itself as the column matrix.
#pragma once
#include <cstdint>

#include "ops/conv/conv.h"

namespace dlcore {

struct ConvBf16ForwardArgs {
  ConvShape s;
  const uint16_t* x = nullptr;  // (N, IC, IH, IW) bf16
  const uint16_t* w = nullptr;  // (OC, ICg, KH, KW) bf16
  const float* bias = nullptr;  // (OC,) float32 or null
  float* y = nullptr;           // (N, OC, OH, OW) float32, fully written
};

struct ConvBf16BackwardDataArgs {
  ConvShape s;
  const uint16_t* dy = nullptr;  // (N, OC, OH, OW) bf16
  const uint16_t* w = nullptr;   // (OC, ICg, KH, KW) bf16
  float* dx = nullptr;           // (N, IC, IH, IW) float32, fully written
};

struct ConvBf16BackwardWeightsArgs {
  ConvShape s;
  const uint16_t* x = nullptr;   // (N, IC, IH, IW) bf16
  const uint16_t* dy = nullptr;  // (N, OC, OH, OW) bf16
  float* dw = nullptr;           // (OC, ICg, KH, KW) float32, fully written
  float* db = nullptr;           // (OC,) float32 or null
};

// Registries under the op names of the float32 ones (the bf16 entries live
// here, beside them, so the float32 conv files stay untouched).
const Registry<ConvBf16ForwardArgs>& conv2d_forward_bf16_registry();
const Registry<ConvBf16BackwardDataArgs>& conv2d_backward_data_bf16_registry();
const Registry<ConvBf16BackwardWeightsArgs>& conv2d_backward_weights_bf16_registry();

// Test hook: the column-buffer budget per chunk of images (default 32 MiB);
// tiny values force one image per chunk. Returns the previous value.
int64_t conv_bf16_set_chunk_bytes(int64_t bytes);

}  // namespace dlcore
