// Splitting a kernel's work over dlcore's threads (baseline code; no ISA flags).
#pragma once
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

#include "core/pool.h"
#include "core/threads.h"

namespace dlcore {

// Below this many bytes touched per thread, one thread beats the fork/join
// of a parallel region (a few microseconds).
constexpr int64_t kMinBytesPerThread = 64 << 10;

// Splits [0, units) into one contiguous range per thread and calls
// body(begin, end) on each; uses fewer threads when `bytes` (the memory the
// whole call touches) is too small to pay for them.
template <class Body>
void parallel_units(int64_t units, int64_t bytes, Body&& body) {
  if (units <= 0) return;
  const int64_t useful = std::max<int64_t>(1, bytes / kMinBytesPerThread);
  const int nt = int(std::min<int64_t>({int64_t(get_num_threads()), units, useful}));
  // An exception may not leave an OpenMP region (std::terminate: a scratch
  // allocation's std::bad_alloc aborted the process instead of raising
  // MemoryError). Each thread catches its own; the first is rethrown here,
  // after the join, where pybind11 translates it.
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    try {
      body(units * t / n, units * (t + 1) / n);
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

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

// parallel_units on the tile pool (core/pool.h) instead of an OpenMP region:
// the same split, but the caller waits only for the ranges a thread has
// claimed, never for a team join. On a loaded machine (load 7 on 2 cores) a
// 2-thread OpenMP quantize of LeNet's 64x784 input took 1.3 ms against 45 us
// on one thread; an element-wise pass is where that join costs the most.
template <class Body>
void parallel_units_pool(int64_t units, int64_t bytes, Body&& body) {
  const int64_t useful = std::max<int64_t>(1, bytes / kMinBytesPerThread);
  const int nt = int(std::min<int64_t>({int64_t(get_num_threads()), units, useful}));
  parallel_ranges(units, nt, nt, body);
}

}  // namespace dlcore
