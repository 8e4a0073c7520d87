// LRN kernels for avx512: lrn_kernels.h instantiated with simd::Avx512.
// GCC 12 warns about its own avx512fintrin.h (_mm512_undefined_* inside the
// mask intrinsics; GCC bug 105593), not about this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "ops/lrn/lrn_kernels.h"

namespace dlcore {

const LrnKernels& lrn_kernels_avx512() { return lrn::lrn_kernel_table<simd::Avx512>(); }

}  // namespace dlcore
