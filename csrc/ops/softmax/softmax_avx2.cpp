// Softmax instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/softmax/softmax_kernels.h"

namespace dlcore {
void softmax_rows_avx2(const SoftmaxArgs& a) { softmax_rows_kernel<simd::Avx2>(a); }
void softmax_strided_avx2(const SoftmaxArgs& a) { softmax_strided_kernel<simd::Avx2>(a); }
}  // namespace dlcore
