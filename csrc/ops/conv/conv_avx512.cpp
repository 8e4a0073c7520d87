// AVX-512 instantiation of the direct convolution (conv_kernels.h):
// 16-channel blocks, 3-block x 9-column register tile.
// Compiled with the AVX-512 flags only; exposes plain functions to conv.cpp.
#include "ops/conv/conv_kernels.h"

namespace dlcore {

const ConvAlgorithms& conv_algorithms_avx512() {
  static const ConvAlgorithms table = conv_algorithm_table<simd::Avx512>();
  return table;
}

}  // namespace dlcore
