// AVX-512 instantiation of the direct convolution (conv_kernels.h):
// 16-channel blocks, 3-block x 9-column register tile, and 8-channel blocks
// for layers whose output blocks would be mostly channel padding.
// Compiled with the AVX-512 flags only; exposes plain functions to conv.cpp.
#include "ops/conv/conv_kernels.h"

namespace dlcore {
namespace {

using V16 = simd::Avx512;
using V8 = simd::Avx2;  // 8-lane vectors (ymm), compiled here with the AVX-512 flags

// A pass whose output blocks hold at most 8 channels (forward and backward
// weights: OCg; backward data: dx's ICg) runs the 8-lane kernels: a 16-lane
// block would multiply at least half its lanes of channel padding, and Zen 4
// runs two ymm FMAs a cycle against one zmm. Zen 4, 2 threads, batch 64,
// 2026-12-05, ms 16 vs 8 lanes (the avx2 entries' kernels): LeNet-5 conv1
// (1 -> 6, 5x5 at 28x28) backward weights 0.53 vs 0.38, forward 0.32 vs
// 0.34; its conv2's backward data (16 -> 6 channels) 0.65 vs 0.57; 3 -> 8
// 3x3 at 32x32 forward 0.61 vs 0.42, weights 0.87 vs 0.52; 8 -> 8 at 16x16
// forward 0.28 vs 0.25, backward data 0.51 vs 0.24, weights 0.79 vs 0.30.
constexpr int64_t kEightLaneChannels = 8;

// f8 where the pass's output blocks hold <= 8 channels, else f16.
template <class Args>
void by_width(const Args& a, int64_t out_channels, void (*f8)(const Args&), void (*f16)(const Args&)) {
  (out_channels <= kEightLaneChannels ? f8 : f16)(a);
}

// The narrow entries: 16 lanes, or 8 lanes taking 1-4 channels narrow and
// 5-8 as one full block (8-lane narrow kernels stop at 4).
template <class Args>
void narrow_by_width(const Args& a, void (*narrow16)(const Args&), void (*narrow8)(const Args&),
                     void (*blocked8)(const Args&)) {
  if (a.s.ocg() > kEightLaneChannels) return narrow16(a);
  (use_narrow(a.s, V8::width) ? narrow8 : blocked8)(a);
}

void forward_narrow(const ConvForwardArgs& a) {
  narrow_by_width(a, conv2d_forward_narrow<V16>, conv2d_forward_narrow<V8>, conv2d_forward_blocked<V8>);
}
void forward_blocked(const ConvForwardArgs& a) {
  by_width(a, a.s.ocg(), conv2d_forward_blocked<V8>, conv2d_forward_blocked<V16>);
}
void data_gather(const ConvBackwardDataArgs& a) {
  by_width(a, a.s.icg(), backward_data_gather<V8>, backward_data_gather<V16>);
}
void data_scatter(const ConvBackwardDataArgs& a) {
  by_width(a, a.s.icg(), conv2d_backward_data_scatter<V8>, conv2d_backward_data_scatter<V16>);
}
void weights_narrow(const ConvBackwardWeightsArgs& a) {
  narrow_by_width(a, conv2d_backward_weights_narrow<V16>, conv2d_backward_weights_narrow<V8>,
                  conv2d_backward_weights_blocked<V8>);
}
void weights_blocked(const ConvBackwardWeightsArgs& a) {
  by_width(a, a.s.ocg(), conv2d_backward_weights_blocked<V8>, conv2d_backward_weights_blocked<V16>);
}

}  // namespace

const ConvAlgorithms& conv_algorithms_avx512() {
  static const ConvAlgorithms table = {&depthwise_forward<V16>,          &forward_narrow, &forward_blocked,
                                       &depthwise_backward_data<V16>,    &data_gather,    &data_scatter,
                                       &depthwise_backward_weights<V16>, &weights_narrow, &weights_blocked};
  return table;
}

}  // namespace dlcore
