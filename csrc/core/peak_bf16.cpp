#include "core/peak_bf16.h"

#include <omp.h>

#include "core/check.h"

namespace dlcore {

double bf16_peak_gflops(Isa isa, int threads, int64_t iterations) {
  DLCORE_CHECK(isa == Isa::amx || isa == Isa::avx512_bf16, "bf16_peak_gflops: ", isa_name(isa),
               " has no bf16 dot-product instruction (use amx or avx512_bf16)");
  DLCORE_CHECK(isa_built(isa) && isa_supported(isa), "bf16_peak_gflops: ", isa_name(isa),
               " cannot run here: ", isa_unavailable_reason(isa));
  DLCORE_CHECK(threads >= 1 && iterations >= 1, "bf16_peak_gflops: threads and iterations must be >= 1");
  double flops = 0, t0 = 0, t1 = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  {
#pragma omp barrier
#pragma omp master
    t0 = omp_get_wtime();
#pragma omp barrier
#ifdef DLCORE_HAVE_AVX512
    flops += isa == Isa::amx ? bf16_chain_amx(iterations) : bf16_chain_avx512bf16(iterations);
#endif
#pragma omp barrier
#pragma omp master
    t1 = omp_get_wtime();
  }
  return flops / (t1 - t0) * 1e-9;
}

}  // namespace dlcore
