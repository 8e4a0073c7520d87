// Activations instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/eltwise/eltwise_kernels.h"

namespace dlcore {
void eltwise_avx2(const EltwiseArgs& a) { eltwise_kernel<simd::Avx2>(a); }
void prelu_forward_avx2(const PreluArgs& a) { prelu_forward_kernel<simd::Avx2>(a); }
void prelu_backward_avx2(const PreluArgs& a) { prelu_backward_kernel<simd::Avx2>(a); }
void maxout_forward_avx2(const MaxoutArgs& a) { maxout_forward_kernel<simd::Avx2>(a); }
void maxout_backward_avx2(const MaxoutArgs& a) { maxout_backward_kernel<simd::Avx2>(a); }
}  // namespace dlcore
