// Dropout instantiated for AVX2/FMA (this file alone gets -mavx2 -mfma).
#include "ops/dropout/dropout_kernels.h"

namespace dlcore {
void dropout_avx2(const DropoutArgs& a) { dropout_kernel<simd::Avx2>(a); }
}  // namespace dlcore
