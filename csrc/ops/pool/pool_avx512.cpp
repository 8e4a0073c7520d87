// Pooling kernels for AVX-512: pool_kernels.h instantiated with simd::Avx512.
#include "ops/pool/pool_kernels.h"

namespace dlcore {

const PoolKernels& pool_kernels_avx512() { return pool::pool_kernel_table<simd::Avx512>(); }

}  // namespace dlcore
