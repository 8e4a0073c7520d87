// Pooling kernels for AVX2/FMA: pool_kernels.h instantiated with simd::Avx2.
#include "ops/pool/pool_kernels.h"

namespace dlcore {

const PoolKernels& pool_kernels_avx2() { return pool::pool_kernel_table<simd::Avx2>(); }

}  // namespace dlcore
