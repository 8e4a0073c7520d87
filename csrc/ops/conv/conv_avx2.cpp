// AVX2 instantiation of the direct convolution (conv_kernels.h): 8-channel blocks, 4-column x 3-block register tile.
// Compiled with -mavx2 -mfma only; exposes plain functions to conv.cpp.
#include "ops/conv/conv_kernels.h"

namespace dlcore {

void conv2d_forward_avx2(const ConvForwardArgs& a) { conv2d_forward_direct<simd::Avx2>(a); }
void conv2d_backward_data_avx2(const ConvBackwardDataArgs& a) { conv2d_backward_data_direct<simd::Avx2>(a); }
void conv2d_backward_weights_avx2(const ConvBackwardWeightsArgs& a) {
  conv2d_backward_weights_direct<simd::Avx2>(a);
}

}  // namespace dlcore
