// Softmax / log-softmax over the middle axis of an (outer, c, inner) view,
// and the fused softmax-cross-entropy loss.
//
// inner == 1 (the reduced axis is contiguous):
//  * c <= kWarpRowMax: the row lives in registers. A group of kWidth lanes
//    (a power of two up to a warp; several rows share a warp when c is small)
//    loads it once, lane l holding columns l, l + kWidth, ... (coalesced),
//    reduces max and sum with shuffles, and writes it: one read and one write
//    per element, one exp. Templated on the columns per lane.
//  * longer rows: one block per row, an online (max, sum of exp(x - max))
//    pair per thread merged across the block; a second pass writes the output. inner > 1: one thread per (outer, inner)
// column, walking c with the same online pair; neighbouring threads read
// neighbouring columns, so the loads coalesce.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kWarpRowMax = 1024;

template <bool kBlock>
__global__ void softmax_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t c,
                                    bool log) {
  using G = RowGroup<kBlock>;
  __shared__ float scratch[2 * kWarp];
  for (int64_t row = G::first_row(); row < rows; row += G::row_step()) {
    const float* xr = x + row * c;
    MaxSum ms{-INFINITY, 0.0f};
    for (int64_t j = G::rank(); j < c; j += G::size()) ms = maxsum_push(ms, xr[j]);
    ms = G::maxsum(ms, scratch);
    float* yr = y + row * c;
    if (log) {
      const float lse = ms.m + logf(ms.s);
      for (int64_t j = G::rank(); j < c; j += G::size()) yr[j] = xr[j] - lse;
    } else {
      const float inv = 1.0f / ms.s;
      for (int64_t j = G::rank(); j < c; j += G::size()) yr[j] = expf(xr[j] - ms.m) * inv;
    }
  }
}

// Reductions over a group of kWidth consecutive lanes (kWidth a power of two
// <= 32). Every lane of the warp must call them (full shuffle mask).
template <int kWidth>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int offset = kWidth / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset, kWidth));
  return v;
}
template <int kWidth>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int offset = kWidth / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset, kWidth);
  return v;
}

// Which row this lane's group owns, walking the rows grid-stride; every lane
// of a warp runs the same number of iterations (rows past the end compute on
// nothing and store nothing) so the shuffles stay converged.
template <int kWidth>
struct GroupRows {
  int64_t first, step;
  int lane;
  __device__ GroupRows() {
    const int64_t thread = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    first = thread / kWidth, step = int64_t(gridDim.x) * blockDim.x / kWidth, lane = threadIdx.x % kWidth;
  }
  // Loop bound rounded up to a whole warp's worth of rows.
  __device__ int64_t end(int64_t rows) const {
    constexpr int kRowsPerWarp = kWarp / kWidth;
    return ceil_div<int64_t>(rows, kRowsPerWarp) * kRowsPerWarp;
  }
};

template <int kCols, int kWidth>
__global__ void softmax_short_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int c,
                                          bool log) {
  const GroupRows<kWidth> g;
  for (int64_t row = g.first; row < g.end(rows); row += g.step) {
    const bool live = row < rows;
    const float* xr = x + row * c;
    float v[kCols];
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const int col = i * kWidth + g.lane;
      v[i] = live && col < c ? xr[col] : -INFINITY;
      m = fmaxf(m, v[i]);
    }
    m = group_max<kWidth>(m);
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      v[i] -= m;  // -inf for padding: exp gives 0
      const float e = expf(v[i]);
      sum += e;
      if (!log) v[i] = e;
    }
    sum = group_sum<kWidth>(sum);
    if (!live) continue;
    const float shift = logf(sum), inv = 1.0f / sum;
    float* yr = y + row * c;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const int col = i * kWidth + g.lane;
      if (col < c) yr[col] = log ? v[i] - shift : v[i] * inv;
    }
  }
}

template <int kCols, int kWidth>
__global__ void softmax_backward_short_rows_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                                   float* __restrict__ dx, int64_t rows, int c, bool log) {
  const GroupRows<kWidth> g;
  for (int64_t row = g.first; row < g.end(rows); row += g.step) {
    const bool live = row < rows;
    float d[kCols], o[kCols];
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const int col = i * kWidth + g.lane;
      const bool in = live && col < c;
      d[i] = in ? dy[row * c + col] : 0.0f;
      o[i] = in ? y[row * c + col] : 0.0f;
      s += log ? d[i] : d[i] * o[i];
    }
    s = group_sum<kWidth>(s);
    if (!live) continue;
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const int col = i * kWidth + g.lane;
      if (col < c) dx[row * c + col] = log ? d[i] - expf(o[i]) * s : o[i] * (d[i] - s);
    }
  }
}

// Launches Kernel<kCols, kWidth> for rows of c <= kWarpRowMax columns: the
// narrowest power-of-two group that covers a short row, else a whole warp
// with the fewest columns per lane from a fixed menu (each is a kernel).
template <template <int, int> class Launch, class... Args>
void short_rows(int c, Args... args) {
  if (c <= 1) return Launch<1, 1>::run(args...);
  if (c <= 2) return Launch<1, 2>::run(args...);
  if (c <= 4) return Launch<1, 4>::run(args...);
  if (c <= 8) return Launch<1, 8>::run(args...);
  if (c <= 16) return Launch<1, 16>::run(args...);
  if (c <= 32) return Launch<1, 32>::run(args...);
  if (c <= 64) return Launch<2, 32>::run(args...);
  if (c <= 128) return Launch<4, 32>::run(args...);
  if (c <= 256) return Launch<8, 32>::run(args...);
  if (c <= 384) return Launch<12, 32>::run(args...);
  if (c <= 512) return Launch<16, 32>::run(args...);
  if (c <= 768) return Launch<24, 32>::run(args...);
  return Launch<32, 32>::run(args...);
}
static_assert(kWarpRowMax == 32 * 32, "the menu above ends at 32 columns per lane");

unsigned short_row_grid(int64_t rows, int width) { return grid_for(rows, kThreads / width); }

template <int kCols, int kWidth>
struct ForwardShort {
  static void run(const float* x, float* y, int64_t rows, int c, bool log, cudaStream_t stream) {
    softmax_short_rows_kernel<kCols, kWidth><<<short_row_grid(rows, kWidth), kThreads, 0, stream>>>(x, y, rows, c, log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_short_rows_kernel");
  }
};
template <int kCols, int kWidth>
struct BackwardShort {
  static void run(const float* dy, const float* y, float* dx, int64_t rows, int c, bool log, cudaStream_t stream) {
    softmax_backward_short_rows_kernel<kCols, kWidth>
        <<<short_row_grid(rows, kWidth), kThreads, 0, stream>>>(dy, y, dx, rows, c, log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_backward_short_rows_kernel");
  }
};

// softmax:     dx = y (dy - sum(dy y))
// log-softmax: dx = dy - exp(y) sum(dy)
template <bool kBlock>
__global__ void softmax_backward_rows_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                             float* __restrict__ dx, int64_t rows, int64_t c, bool log) {
  using G = RowGroup<kBlock>;
  __shared__ float scratch[kWarp];
  for (int64_t row = G::first_row(); row < rows; row += G::row_step()) {
    const float *dyr = dy + row * c, *yr = y + row * c;
    float s = 0.0f;
    for (int64_t j = G::rank(); j < c; j += G::size()) s += log ? dyr[j] : dyr[j] * yr[j];
    s = G::sum(s, scratch);
    float* dxr = dx + row * c;
    for (int64_t j = G::rank(); j < c; j += G::size()) dxr[j] = log ? dyr[j] - expf(yr[j]) * s : yr[j] * (dyr[j] - s);
  }
}

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

__global__ void softmax_cols_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t c,
                                    int64_t inner, bool log) {
  for (int64_t col = global_thread(); col < outer * inner; col += grid_threads()) {
    const int64_t base = (col / inner) * c * inner + col % inner;
    MaxSum ms{-INFINITY, 0.0f};
    for (int64_t j = 0; j < c; ++j) ms = maxsum_push(ms, x[base + j * inner]);
    const float lse = ms.m + logf(ms.s), inv = 1.0f / ms.s;
    for (int64_t j = 0; j < c; ++j) {
      const float v = x[base + j * inner];
      y[base + j * inner] = log ? v - lse : expf(v - ms.m) * inv;
    }
  }
}

__global__ void softmax_backward_cols_kernel(const float* __restrict__ dy, const float* __restrict__ y,
                                             float* __restrict__ dx, int64_t outer, int64_t c, int64_t inner,
                                             bool log) {
  for (int64_t col = global_thread(); col < outer * inner; col += grid_threads()) {
    const int64_t base = (col / inner) * c * inner + col % inner;
    float s = 0.0f;
    for (int64_t j = 0; j < c; ++j) s += log ? dy[base + j * inner] : dy[base + j * inner] * y[base + j * inner];
    for (int64_t j = 0; j < c; ++j) {
      const int64_t i = base + j * inner;
      dx[i] = log ? dy[i] - expf(y[i]) * s : y[i] * (dy[i] - s);
    }
  }
}

// Blocks for `rows` rows of one warp (kThreads / 32 rows per block) or one block each.
unsigned row_grid(int64_t rows, bool block_per_row) {
  const int64_t rows_per_block = block_per_row ? 1 : kThreads / kWarp;
  return grid_for(rows, int(rows_per_block));
}

// ---- cross entropy: loss_n = -((1 - eps) logp[n, t_n] + eps / C sum_c logp[n, c]) ----
__global__ void count_bad_targets_kernel(const int64_t* __restrict__ target, int64_t n, int64_t c, int* count) {
  int bad = 0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) bad += (target[i] < 0 || target[i] >= c);
  if (bad) atomicAdd(count, bad);
}

template <bool kBlock>
__global__ void cross_entropy_forward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ target,
                                             float* __restrict__ loss, float* __restrict__ log_probs, int64_t rows,
                                             int64_t c, float smoothing) {
  using G = RowGroup<kBlock>;
  __shared__ float scratch[2 * kWarp];
  for (int64_t row = G::first_row(); row < rows; row += G::row_step()) {
    const float* xr = logits + row * c;
    MaxSum ms{-INFINITY, 0.0f};
    float total = 0.0f;  // sum of the logits, for the smoothing term
    for (int64_t j = G::rank(); j < c; j += G::size()) {
      ms = maxsum_push(ms, xr[j]);
      total += xr[j];
    }
    ms = G::maxsum(ms, scratch);
    total = G::sum(total, scratch + kWarp);
    const float lse = ms.m + logf(ms.s);
    float* lr = log_probs + row * c;
    for (int64_t j = G::rank(); j < c; j += G::size()) lr[j] = xr[j] - lse;
    if (G::rank() == 0) {
      const float picked = xr[target[row]] - lse, mean_logp = total / float(c) - lse;
      loss[row] = -((1.0f - smoothing) * picked + smoothing * mean_logp);
    }
  }
}

// dlogits = dloss_n (softmax - ((1 - eps) onehot(t_n) + eps / C))
__global__ void cross_entropy_backward_kernel(const float* __restrict__ dloss, const float* __restrict__ log_probs,
                                              const int64_t* __restrict__ target, float* __restrict__ dlogits,
                                              int64_t n, int64_t c, float smoothing) {
  for (int64_t i = global_thread(); i < n * c; i += grid_threads()) {
    const int64_t row = i / c, col = i % c;
    const float want = (col == target[row] ? 1.0f - smoothing : 0.0f) + smoothing / float(c);
    dlogits[i] = dloss[row] * (expf(log_probs[i]) - want);
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t c, int64_t inner, bool log, cudaStream_t stream) {
  if (outer * c * inner == 0) return;
  if (inner > 1) {
    softmax_cols_kernel<<<grid_for(outer * inner, kThreads), kThreads, 0, stream>>>(x, y, outer, c, inner, log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_cols_kernel");
  } else if (c > kWarpRowMax) {
    softmax_rows_kernel<true><<<row_grid(outer, true), kThreads, 0, stream>>>(x, y, outer, c, log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_rows_kernel<block>");
  } else {
    short_rows<ForwardShort>(int(c), x, y, outer, int(c), log, stream);
  }
}

void softmax_backward(const float* dy, const float* y, float* dx, int64_t outer, int64_t c, int64_t inner, bool log,
                      cudaStream_t stream) {
  if (outer * c * inner == 0) return;
  if (inner > 1) {
    softmax_backward_cols_kernel<<<grid_for(outer * inner, kThreads), kThreads, 0, stream>>>(dy, y, dx, outer, c, inner,
                                                                                             log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_backward_cols_kernel");
  } else if (c > kWarpRowMax) {
    softmax_backward_rows_kernel<true><<<row_grid(outer, true), kThreads, 0, stream>>>(dy, y, dx, outer, c, log);
    DLCORE_CUDA_CHECK_LAUNCH("softmax_backward_rows_kernel<block>");
  } else {
    short_rows<BackwardShort>(int(c), dy, y, dx, outer, int(c), log, stream);
  }
}

int64_t count_bad_targets(const int64_t* target, int64_t n, int64_t c, int* scratch, cudaStream_t stream) {
  if (n == 0) return 0;
  DLCORE_CUDA_CHECK(cudaMemsetAsync(scratch, 0, sizeof(int), stream));
  count_bad_targets_kernel<<<grid_for(n, kThreads, 1024), kThreads, 0, stream>>>(target, n, c, scratch);
  DLCORE_CUDA_CHECK_LAUNCH("count_bad_targets_kernel");
  int bad = 0;
  DLCORE_CUDA_CHECK(cudaMemcpyAsync(&bad, scratch, sizeof(int), cudaMemcpyDeviceToHost, stream));
  DLCORE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return bad;
}

void cross_entropy_forward(const float* logits, const int64_t* target, float* loss, float* log_probs, int64_t n,
                           int64_t c, float label_smoothing, cudaStream_t stream) {
  if (n == 0) return;
  if (c > kWarpRowMax) {
    cross_entropy_forward_kernel<true>
        <<<row_grid(n, true), kThreads, 0, stream>>>(logits, target, loss, log_probs, n, c, label_smoothing);
  } else {
    cross_entropy_forward_kernel<false>
        <<<row_grid(n, false), kThreads, 0, stream>>>(logits, target, loss, log_probs, n, c, label_smoothing);
  }
  DLCORE_CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
}

void cross_entropy_backward(const float* dloss, const float* log_probs, const int64_t* target, float* dlogits,
                            int64_t n, int64_t c, float label_smoothing, cudaStream_t stream) {
  if (n * c == 0) return;
  cross_entropy_backward_kernel<<<grid_for(n * c, kThreads), kThreads, 0, stream>>>(dloss, log_probs, target, dlogits,
                                                                                    n, c, label_smoothing);
  DLCORE_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
