// Driver of the low-precision peak probes (baseline code; the loops live in
// peak_lowbit_<isa>.cpp).
#include "ops/quant/peak_lowbit.h"

#include <omp.h>

#include <atomic>

#include "core/check.h"
#include "core/cpu.h"

namespace dlcore {

double lowbit_peak_gops(const std::string& kind, int threads, int64_t iterations) {
  using Loop = double (*)(int64_t, double*);
  Loop loop = nullptr;
  Isa isa = Isa::avx2;
#if defined(DLCORE_HAVE_AVX2)
  if (kind == "avx2_maddubs") loop = peak_loop_avx2_maddubs;
  if (kind == "avx2_madd16") loop = peak_loop_avx2_madd16;
  if (kind == "avx2_popcnt") loop = peak_loop_avx2_popcnt;
  if (kind == "avx2_nibble") loop = peak_loop_avx2_nibble;
  if (kind == "avx_vnni") loop = peak_loop_avxvnni, isa = Isa::avx_vnni;
#endif
#if defined(DLCORE_HAVE_AVX512)
  if (kind == "avx512_vnni") loop = peak_loop_avx512vnni, isa = Isa::avx512_vnni;
  if (kind == "avx512_vpopcnt") loop = peak_loop_avx512vpopcnt, isa = Isa::avx512_vpopcnt;
#endif
  DLCORE_CHECK(loop != nullptr, "lowbit_peak_gops: unknown loop '", kind,
               "' (avx2_maddubs, avx2_madd16, avx2_popcnt, avx2_nibble, avx_vnni, avx512_vnni, avx512_vpopcnt)");
  if (!isa_built(isa) || !isa_supported(isa))
    throw BackendError(cat("lowbit_peak_gops: ", kind, " cannot run here: ", isa_unavailable_reason(isa)));
  DLCORE_CHECK(threads >= 1 && iterations >= 1, "lowbit_peak_gops: threads and iterations must be >= 1");
  std::atomic<double> sink{0.0};
  double t0 = 0, t1 = 0, macs = 0;
#pragma omp parallel num_threads(threads)
  {
#pragma omp barrier
#pragma omp master
    t0 = omp_get_wtime();
#pragma omp barrier
    double m = 0;
    double r = loop(iterations, &m);
    double expected = sink.load();
    while (!sink.compare_exchange_weak(expected, expected + r)) {
    }
#pragma omp master
    macs = m;
#pragma omp barrier
#pragma omp master
    t1 = omp_get_wtime();
  }
  const double ops = 2.0 * macs * threads;
  return sink.load() == -12345.0 ? 0.0 : ops / (t1 - t0) * 1e-9;
}

}  // namespace dlcore
