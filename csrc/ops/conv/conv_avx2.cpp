// AVX2 instantiation of the direct convolution (conv_kernels.h):
// 8-channel blocks, 3-block x 4-column register tile.
// Compiled with -mavx2 -mfma only; exposes plain functions to conv.cpp.
#include "ops/conv/conv_kernels.h"

namespace dlcore {

const ConvAlgorithms& conv_algorithms_avx2() {
  static const ConvAlgorithms table = conv_algorithm_table<simd::Avx2>();
  return table;
}

}  // namespace dlcore
