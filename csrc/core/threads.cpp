#include "core/threads.h"

#include <omp.h>

#include <atomic>

#include "core/check.h"

namespace dlcore {

static std::atomic<int>& thread_count() {
  static std::atomic<int> count{omp_get_max_threads()};
  return count;
}

void set_num_threads(int n) {
  DLCORE_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  thread_count().store(n);
}

int get_num_threads() { return thread_count().load(std::memory_order_relaxed); }

}  // namespace dlcore
