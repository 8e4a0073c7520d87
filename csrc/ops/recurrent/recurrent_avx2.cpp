// Fused recurrent layers instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma); the
// per-step GEMMs run on the AVX2 GEMM.
#include "ops/recurrent/recurrent_kernels.h"

namespace dlcore {
void recurrent_forward_avx2(const RecurrentArgs& a) { recurrent_forward_kernel<simd::Avx2>(a, Isa::avx2); }
void recurrent_backward_avx2(const RecurrentArgs& a) { recurrent_backward_kernel<simd::Avx2>(a, Isa::avx2); }
}  // namespace dlcore
