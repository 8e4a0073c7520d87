// Fused optimizer steps instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/optim/optim_kernels.h"

namespace dlcore {
void optim_step_avx2(const OptimArgs& a) { optim_kernel<simd::Avx2>(a); }
}  // namespace dlcore
