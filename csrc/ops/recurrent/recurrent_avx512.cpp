// Fused recurrent layers instantiated for AVX-512 (this file alone gets the AVX-512 flags); the
// per-step GEMMs run on the AVX-512 GEMM. Compiled on the dev machine but not run there (it has
// no AVX-512); the tests run it where the CPU has it and skip with the reason.
// GCC 12 flags _mm512_undefined_* inside its own intrinsics as uninitialized (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "ops/recurrent/recurrent_kernels.h"

namespace dlcore {
void recurrent_forward_avx512(const RecurrentArgs& a) { recurrent_forward_kernel<simd::Avx512>(a, Isa::avx512); }
void recurrent_backward_avx512(const RecurrentArgs& a) { recurrent_backward_kernel<simd::Avx512>(a, Isa::avx512); }
}  // namespace dlcore
