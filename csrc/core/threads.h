// Thread count for every OpenMP-parallel kernel.
//
// Kept in one process-wide atomic rather than OpenMP's per-thread ICV, so a
// kernel called from any Python thread uses the count set by
// dlcore.set_num_threads(). Defaults to OpenMP's default (the machine's
// cores, or OMP_NUM_THREADS when set). Parallel regions write
// `#pragma omp parallel num_threads(dlcore::get_num_threads())`.
#pragma once

namespace dlcore {
void set_num_threads(int n);
int get_num_threads();
}  // namespace dlcore
