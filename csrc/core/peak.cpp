#include "core/peak.h"

#include <omp.h>

#include <atomic>

#include "core/check.h"
#include "core/peak_kernel.h"

namespace dlcore {

float fma_chain_ref(int64_t iterations) { return fma_chain<simd::Scalar>(iterations); }

int fma_lanes(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return 16;
    case Isa::avx2:
      return 8;
    default:
      return 1;
  }
}

static float run_chain(Isa isa, int64_t iterations) {
  switch (isa) {
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512:
      return fma_chain_avx512(iterations);
#endif
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2:
      return fma_chain_avx2(iterations);
#endif
    default:
      return fma_chain_ref(iterations);
  }
}

double fma_peak_gflops(Isa isa, int threads, int64_t iterations) {
  DLCORE_CHECK(isa_built(isa) && isa_supported(isa), "fma_peak_gflops: ISA ", isa_name(isa),
               " cannot run here: ", isa_unavailable_reason(isa));
  DLCORE_CHECK(isa == Isa::ref || isa == Isa::avx2 || isa == Isa::avx512, "fma_peak_gflops: ", isa_name(isa),
               " is not a float32 FMA tier (use ref, avx2 or avx512)");
  DLCORE_CHECK(threads >= 1 && iterations >= 1, "fma_peak_gflops: threads and iterations must be >= 1");
  std::atomic<float> sink{0.0f};
  double t0 = 0, t1 = 0;
#pragma omp parallel num_threads(threads)
  {
#pragma omp barrier
#pragma omp master
    t0 = omp_get_wtime();
#pragma omp barrier
    float r = run_chain(isa, iterations);
    float expected = sink.load();
    while (!sink.compare_exchange_weak(expected, expected + r)) {
    }
#pragma omp barrier
#pragma omp master
    t1 = omp_get_wtime();
  }
  double flops = 2.0 * kFmaChains * fma_lanes(isa) * double(iterations) * threads;
  return sink.load() == -1.0f ? 0.0 : flops / (t1 - t0) * 1e-9;
}

}  // namespace dlcore
