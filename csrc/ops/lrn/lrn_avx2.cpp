// LRN kernels for avx2: lrn_kernels.h instantiated with simd::Avx2.
#include "ops/lrn/lrn_kernels.h"

namespace dlcore {

const LrnKernels& lrn_kernels_avx2() { return lrn::lrn_kernel_table<simd::Avx2>(); }

}  // namespace dlcore
