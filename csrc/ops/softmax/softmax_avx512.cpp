// Softmax instantiated for AVX-512 (this file alone gets the AVX-512 flags).
// GCC 12 flags _mm512_undefined_* inside its own intrinsics as uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "ops/softmax/softmax_kernels.h"

namespace dlcore {
void softmax_rows_avx512(const SoftmaxArgs& a) { softmax_rows_kernel<simd::Avx512>(a); }
void softmax_strided_avx512(const SoftmaxArgs& a) { softmax_strided_kernel<simd::Avx512>(a); }
}  // namespace dlcore
