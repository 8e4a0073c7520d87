// Fused optimizer steps instantiated for AVX-512 (this file alone gets the
// AVX-512 flags). Compiled on the dev machine but not run there (it has no
// AVX-512); the tests run it where the CPU has it and skip with the reason.
// GCC 12 flags _mm512_undefined_* inside its own intrinsics as uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "ops/optim/optim_kernels.h"

namespace dlcore {
void optim_step_avx512(const OptimArgs& a) { optim_kernel<simd::Avx512>(a); }
}  // namespace dlcore
