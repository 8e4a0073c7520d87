#include "core/stream.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "core/check.h"

namespace dlcore {
namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float, FreeDeleter>;

AlignedFloats alloc_floats(int64_t n) {
  size_t bytes = ((size_t(n) * sizeof(float) + 4095) / 4096) * 4096;
  float* p = static_cast<float*>(std::aligned_alloc(4096, bytes));
  if (!p) throw std::bad_alloc();
  return AlignedFloats(p);
}

// The loops are kept as plain loops the compiler vectorizes: GCC would turn
// the copy into a memcpy call, whose non-temporal stores for large sizes
// would measure something other than STREAM's copy.
#if defined(__GNUC__) && !defined(__clang__)
#define DLCORE_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define DLCORE_NO_MEMCPY_IDIOM
#endif

DLCORE_NO_MEMCPY_IDIOM void copy_part(const float* __restrict a, float* __restrict c, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) c[i] = a[i];
}

void triad_part(float* __restrict a, const float* __restrict b, const float* __restrict c, float q, int64_t lo,
                int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + q * c[i];
}

}  // namespace

double stream_bandwidth_gbs(const std::string& kind, int threads, int64_t nbytes) {
  DLCORE_CHECK(kind == "copy" || kind == "triad", "stream_bandwidth: kind must be 'copy' or 'triad', got '", kind, "'");
  DLCORE_CHECK(threads >= 1, "stream_bandwidth: threads must be >= 1, got ", threads);
  DLCORE_CHECK(nbytes >= (1 << 20), "stream_bandwidth: nbytes must be at least 1 MiB, got ", nbytes);
  const int64_t n = nbytes / int64_t(sizeof(float));
  const bool copy = kind == "copy";
  AlignedFloats a = alloc_floats(n), b = alloc_floats(n), c = alloc_floats(n);
  float *pa = a.get(), *pb = b.get(), *pc = c.get();
  constexpr int kPasses = 6;  // the first pass is a warm-up, as in STREAM
  double best = 1e30;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    // First touch by the thread that streams this part (NUMA placement).
    for (int64_t i = lo; i < hi; ++i) {
      pa[i] = 1.0f;
      pb[i] = 2.0f;
      pc[i] = 0.5f;
    }
    for (int pass = 0; pass < kPasses; ++pass) {
      double t0 = 0;
#pragma omp barrier
#pragma omp master
      t0 = omp_get_wtime();
      if (copy)
        copy_part(pa, pc, lo, hi);
      else
        triad_part(pa, pb, pc, 0.5f, lo, hi);
#pragma omp barrier
#pragma omp master
      if (pass > 0) best = std::min(best, omp_get_wtime() - t0);
    }
  }
  // Keep the arrays observable so the passes cannot be optimized away.
  volatile float sink = pa[n / 2] + pc[n / 3];
  (void)sink;
  const double bytes = double(copy ? 2 : 3) * double(n) * sizeof(float);
  return bytes / best * 1e-9;
}

}  // namespace dlcore
