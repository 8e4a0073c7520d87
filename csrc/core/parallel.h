// Splitting a kernel's work over dlcore's threads (baseline code; no ISA flags).
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/pool.h"
#include "core/threads.h"

namespace dlcore {

// Below this many bytes touched per thread, one thread beats handing a
// second thread its share (a few microseconds).
constexpr int64_t kMinBytesPerThread = 64 << 10;

// [0, units) cut into `chunks` contiguous, nearly equal ranges, handed out to
// nt threads by the tile pool; body(begin, end) on each. One range on the
// caller when nt <= 1.
template <class Body>
void parallel_ranges(int64_t units, int nt, int64_t chunks, Body&& body) {
  if (units <= 0) return;
  chunks = std::max<int64_t>(1, std::min(chunks, units));
  if (nt <= 1 || chunks == 1) {
    body(int64_t(0), units);
    return;
  }
  parallel_tiles(chunks, nt, [&](int64_t t) { body(units * t / chunks, units * (t + 1) / chunks); });
}

// The memory-bound loops (element-wise, norm, softmax, dropout, pooling)
// hand their work to nt threads through the tile pool in kRangesPerThread
// ranges a thread, not as an OpenMP static split: beside a spinning process
// (issue 17's busy machine; 2 threads, Zen 4, 1M floats) a static half left
// the caller waiting for the thread the OS had descheduled, and relu took
// 4.2x its quiet time, batch norm 5.9x, softmax 4.2x; now the other thread
// takes over that thread's remaining ranges. Which thread computes a range
// never changes a result (element-wise, or each reduction inside one range).
constexpr int64_t kRangesPerThread = 4;

// body(begin, end) over [0, n) in kRangesPerThread ranges a thread.
template <class Body>
void parallel_split(int64_t n, int nt, Body&& body) {
  parallel_ranges(n, nt, int64_t(nt) * kRangesPerThread, body);
}

// The same with range boundaries on multiples of `align` items, so that no
// two threads share a cache line of output.
template <class Body>
void parallel_aligned(int64_t n, int nt, int64_t align, Body&& body) {
  parallel_split((n + align - 1) / align, nt,
                 [&](int64_t b0, int64_t b1) { body(std::min(n, b0 * align), std::min(n, b1 * align)); });
}

// body(i) for every i in [0, n), over nt threads as above.
template <class Body>
void parallel_each(int64_t n, int nt, Body&& body) {
  parallel_split(n, nt, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) body(i);
  });
}

// Splits [0, units) over dlcore's threads and calls body(begin, end) on
// each range, kRangesPerThread ranges a thread from the tile pool; uses fewer
// threads when `bytes` (the memory the whole call touches) is too small to
// pay for them. (An OpenMP region here once left a loaded machine's caller
// waiting at the join: a 2-thread quantize of LeNet's 64x784 input took
// 1.3 ms at load 7 on 2 cores against 45 us on one thread.) An exception in
// body reaches the caller after the other ranges are done.
template <class Body>
void parallel_units(int64_t units, int64_t bytes, Body&& body) {
  const int64_t useful = std::max<int64_t>(1, bytes / kMinBytesPerThread);
  const int nt = int(std::min<int64_t>({int64_t(get_num_threads()), std::max<int64_t>(1, units), useful}));
  parallel_split(units, nt, body);
}

}  // namespace dlcore
