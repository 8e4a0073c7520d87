// LRN kernels for avx512: lrn_kernels.h instantiated with simd::Avx512.
#include "ops/lrn/lrn_kernels.h"

namespace dlcore {

const LrnKernels& lrn_kernels_avx512() { return lrn::lrn_kernel_table<simd::Avx512>(); }

}  // namespace dlcore
