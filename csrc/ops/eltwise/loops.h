// Loop skeletons shared by the memory-bound families (eltwise, norm,
// softmax, dropout): how many threads a piece of work deserves, and the
// vectorized element-wise map with exact remainders and streaming stores.
//
// Anonymous namespace, like core/simd.h: every ISA's translation unit gets
// its own copy, so AVX code never leaks into baseline code via the linker.
#pragma once
#include <cstdint>

#include "core/parallel.h"
#include "core/simd.h"
#include "core/threads.h"

namespace dlcore {
namespace {

// Below ~32K floats (128 KiB) per thread, the fork/join of a parallel region
// costs more than the second core saves (measured with the eltwise report).
constexpr int64_t kMinElementsPerThread = 32 * 1024;

// Outputs of at least this many bytes go around the cache with non-temporal
// stores: input and output together (>= 8 MiB) cannot stay in the 8 MiB L3,
// and streaming saves the read-for-ownership of every output line (a third of
// the traffic of y = f(x)). Measured on relu, 1 thread (this machine, under
// load): outputs of 4 MiB went from 8-12 to 18-20 GB/s and 6.4 MiB from 7 to
// 12-15 GB/s against the former 8 MiB threshold; 2 MiB is unchanged either way.
constexpr int64_t kStreamMinBytes = 4ll << 20;

inline int threads_for(int64_t work, int64_t min_work_per_thread) {
  int64_t nt = get_num_threads();
  int64_t useful = work / (min_work_per_thread > 0 ? min_work_per_thread : 1);
  if (useful < 1) useful = 1;
  return int(nt < useful ? nt : useful);
}

// out[i] = f(a[i]) (F::binary == false) or f(a[i], b[i]) over [0, n) on
// the calling thread. `stream` uses non-temporal stores (after peeling to
// the vector alignment of `out`); the caller issues the fence.
template <class V, class F>
DLCORE_INLINE void map_range(const F& f, const float* a, const float* b, float* out, int64_t n, bool stream) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  auto apply = [&](reg x, int64_t i, int count) -> reg {
    if constexpr (F::binary) {
      return f(x, count == W ? V::load(b + i) : V::load_partial(b + i, count));
    } else {
      return f(x, x);
    }
  };
  int64_t i = 0;
  if (stream && W > 1) {
    int64_t misaligned = int64_t(reinterpret_cast<uintptr_t>(out) / sizeof(float)) % W;
    int64_t peel = misaligned ? W - misaligned : 0;
    if (peel > n) peel = n;
    if (peel) V::store_partial(out, apply(V::load_partial(a, int(peel)), 0, int(peel)), int(peel));
    for (i = peel; i + W <= n; i += W) V::stream(out + i, apply(V::load(a + i), i, W));
  }
  for (; i + 2 * W <= n; i += 2 * W) {
    reg y0 = apply(V::load(a + i), i, W);
    reg y1 = apply(V::load(a + i + W), i + W, W);
    V::store(out + i, y0);
    V::store(out + i + W, y1);
  }
  for (; i + W <= n; i += W) V::store(out + i, apply(V::load(a + i), i, W));
  if (i < n) {
    int rest = int(n - i);
    V::store_partial(out + i, apply(V::load_partial(a + i, rest), i, rest), rest);
  }
}

// The same map over all of [0, n), split over threads in contiguous ranges.
template <class V, class F>
void map_parallel(const F& f, const float* a, const float* b, float* out, int64_t n) {
  const bool stream = n * int64_t(sizeof(float)) >= kStreamMinBytes;
  parallel_aligned(n, threads_for(n, kMinElementsPerThread), 16, [&](int64_t begin, int64_t end) {
    map_range<V>(f, a + begin, b ? b + begin : nullptr, out + begin, end - begin, stream);
    if (stream) V::stream_fence();
  });
}

}  // namespace
}  // namespace dlcore
