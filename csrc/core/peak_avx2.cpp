#include "core/peak.h"
#include "core/peak_kernel.h"

namespace dlcore {
float fma_chain_avx2(int64_t iterations) { return fma_chain<simd::Avx2>(iterations); }
}  // namespace dlcore
