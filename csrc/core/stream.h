// Memory-bandwidth probe for the benchmark report (STREAM-like copy and
// triad, OpenMP). Bandwidth-bound kernels (pooling, LRN, eltwise) are reported
// as a fraction of what this machine measures here, not of a datasheet figure.
#pragma once
#include <cstdint>
#include <string>

namespace dlcore {

// GB/s of `kind` on `threads` threads over arrays of `nbytes` bytes each:
//   "copy":  c[i] = a[i]             counts 2 * nbytes per pass (read a, write c);
//   "triad": a[i] = b[i] + q * c[i]  counts 3 * nbytes per pass.
// As in STREAM, write-allocate traffic is not counted, each thread first
// touches the part of the arrays it later streams, and the best of several
// passes is reported.
double stream_bandwidth_gbs(const std::string& kind, int threads, int64_t nbytes);

}  // namespace dlcore
