// Batch normalization instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/norm/norm_kernels.h"

namespace dlcore {
void batch_norm_avx2(const BatchNormArgs& a) { batch_norm_kernel<simd::Avx2>(a); }
}  // namespace dlcore
