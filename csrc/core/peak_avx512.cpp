#include "core/peak.h"
#include "core/peak_kernel.h"

namespace dlcore {
float fma_chain_avx512(int64_t iterations) { return fma_chain<simd::Avx512>(iterations); }
}  // namespace dlcore
