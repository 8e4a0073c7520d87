// 2-D convolution, forward / backward-data / backward-weights (issue 3).
//
// Public layout: NCHW activations, OIHW weights (I = input channels per
// group), float32, C-contiguous. The entry points in bindings/bind_conv.cpp
// check everything and fill a ConvShape; kernels trust it.
//
//   y[n, o, oh, ow] = bias[o] + sum_{c, kh, kw} x[n, g*ICg + c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]
//                                              * w[o, c, kh, kw]        (g = o / OCg; x = 0 outside)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "dispatch/registry.h"

namespace dlcore {

struct ConvShape {
  int64_t n = 0;                 // minibatch
  int64_t ic = 0, ih = 0, iw = 0;  // input channels (all groups) and spatial size
  int64_t oc = 0, oh = 0, ow = 0;  // output channels (all groups) and spatial size
  int64_t kh = 0, kw = 0;        // kernel size
  int64_t sh = 1, sw = 1;        // stride
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding: top, bottom, left, right
  int64_t dh = 1, dw = 1;        // dilation
  int64_t groups = 1;

  int64_t icg() const { return ic / groups; }
  int64_t ocg() const { return oc / groups; }
  std::string str() const;  // for error messages and DLCORE_VERBOSE
};

// Output extent along one axis, or a value <= 0 when the dilated kernel does
// not fit in the padded input.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                             int64_t dilation) {
  int64_t span = dilation * (k - 1) + 1;
  int64_t padded = in + pad_lo + pad_hi;
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

struct ConvForwardArgs {
  ConvShape s;
  const float* x = nullptr;     // (N, IC, IH, IW)
  const float* w = nullptr;     // (OC, ICg, KH, KW)
  const float* bias = nullptr;  // (OC,) or null
  float* y = nullptr;           // (N, OC, OH, OW), fully written
};

struct ConvBackwardDataArgs {
  ConvShape s;
  const float* dy = nullptr;  // (N, OC, OH, OW)
  const float* w = nullptr;   // (OC, ICg, KH, KW)
  float* dx = nullptr;        // (N, IC, IH, IW), fully written
};

struct ConvBackwardWeightsArgs {
  ConvShape s;
  const float* x = nullptr;   // (N, IC, IH, IW)
  const float* dy = nullptr;  // (N, OC, OH, OW)
  float* dw = nullptr;        // (OC, ICg, KH, KW), fully written
  float* db = nullptr;        // (OC,) or null: no bias gradient wanted
};

const Registry<ConvForwardArgs>& conv2d_forward_registry();
const Registry<ConvBackwardDataArgs>& conv2d_backward_data_registry();
const Registry<ConvBackwardWeightsArgs>& conv2d_backward_weights_registry();

// Per-calling-thread scratch memory (64-byte aligned, grow-only, contents
// undefined), one buffer per `slot` (0..kConvScratchSlots-1). Defined in
// baseline code (conv.cpp) so that ISA-flagged files never instantiate the
// allocator (inline code in them could be merged into baseline callers).
constexpr int kConvScratchSlots = 5;
float* conv_scratch(int slot, size_t count);
// Test hook: fills this thread's scratch with NaN, so that a later call that
// forgets to write part of a blocked layout (padding, channel tails) shows up
// as NaN in its result instead of silently reusing an earlier call's values.
void conv_poison_scratch();

// The direct, channel-blocked implementations (conv_avx2.cpp / conv_avx512.cpp).
void conv2d_forward_avx2(const ConvForwardArgs& a);
void conv2d_backward_data_avx2(const ConvBackwardDataArgs& a);
void conv2d_backward_weights_avx2(const ConvBackwardWeightsArgs& a);
void conv2d_forward_avx512(const ConvForwardArgs& a);
void conv2d_backward_data_avx512(const ConvBackwardDataArgs& a);
void conv2d_backward_weights_avx512(const ConvBackwardWeightsArgs& a);

}  // namespace dlcore
