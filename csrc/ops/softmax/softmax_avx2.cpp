// Softmax instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/softmax/softmax_kernels.h"

namespace dlcore {
void softmax_avx2(const SoftmaxArgs& a) { softmax_kernel<simd::Avx2>(a); }
}  // namespace dlcore
