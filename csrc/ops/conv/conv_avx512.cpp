// AVX512 instantiation of the direct convolution (conv_kernels.h): 16-channel blocks, 9-column x 3-block register tile.
// Compiled with the AVX-512 flags only; exposes plain functions to conv.cpp.
#include "ops/conv/conv_kernels.h"

namespace dlcore {

void conv2d_forward_avx512(const ConvForwardArgs& a) { conv2d_forward_direct<simd::Avx512>(a); }
void conv2d_backward_data_avx512(const ConvBackwardDataArgs& a) { conv2d_backward_data_direct<simd::Avx512>(a); }
void conv2d_backward_weights_avx512(const ConvBackwardWeightsArgs& a) {
  conv2d_backward_weights_direct<simd::Avx512>(a);
}

}  // namespace dlcore
