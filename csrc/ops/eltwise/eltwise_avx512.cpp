// Activations instantiated for AVX-512 (this file alone gets the AVX-512 flags).
// GCC 12 flags _mm512_undefined_* inside its own intrinsics as uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "ops/eltwise/eltwise_kernels.h"

namespace dlcore {
void eltwise_avx512(const EltwiseArgs& a) { eltwise_kernel<simd::Avx512>(a); }
void prelu_forward_avx512(const PreluArgs& a) { prelu_forward_kernel<simd::Avx512>(a); }
void prelu_backward_avx512(const PreluArgs& a) { prelu_backward_kernel<simd::Avx512>(a); }
void maxout_forward_avx512(const MaxoutArgs& a) { maxout_forward_kernel<simd::Avx512>(a); }
void maxout_backward_avx512(const MaxoutArgs& a) { maxout_backward_kernel<simd::Avx512>(a); }
}  // namespace dlcore
