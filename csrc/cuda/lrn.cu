// Local response normalization, NCHW:
//   y_i = x_i d_i^-beta,  d_i = k + alpha_eff sum_{j in win(i)} x_j^2
// win(i) across channels: channels [c - size/2, c + (size-1)/2] (PyTorch's
// placement; symmetric for odd sizes); within a channel: the size x size
// pixels [h - size/2, h + (size-1)/2] x [w - size/2, w + (size-1)/2].
// Out-of-range neighbours count as zeros.
//
// Exact backward: dx_i = dy_i d_i^-beta
//                        - 2 beta alpha_eff x_i sum_{j : i in win(j)} dy_j x_j d_j^(-beta-1)
// in two passes: t_j = dy_j x_j d_j^(-beta-1) into scratch, then the sum over
// the transposed window, [c - (size-1)/2, c + size/2], gathered per i (no atomics).
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;

struct Pos {
  int64_t n;
  int c, h, w;
};
__device__ __forceinline__ Pos pos_of(int64_t i, const LrnParams& p) {
  return {i / (int64_t(p.c) * p.h * p.w), int((i / (int64_t(p.h) * p.w)) % p.c), int((i / p.w) % p.h),
          int(i % p.w)};
}

// Sum of v(j) over the window [x - before, x + after] clipped to [0, extent).
// `transposed` swaps before/after: the set of j whose window contains x.
struct Window {
  int before, after;
  __device__ Window(int size, bool transposed)
      : before(transposed ? (size - 1) / 2 : size / 2), after(transposed ? size / 2 : (size - 1) / 2) {}
  __device__ int lo(int at) const { return max(at - before, 0); }
  __device__ int hi(int at, int extent) const { return min(at + after, extent - 1); }
};

// Sum of f(a[j]) over the window of element i (transposed: over the j whose windows hold i).
template <bool kSquare>
__device__ __forceinline__ float window_sum(const float* __restrict__ a, int64_t i, const LrnParams& p,
                                            bool transposed) {
  const Pos q = pos_of(i, p);
  const Window win(p.size, transposed);
  float sum = 0.0f;
  if (p.within) {
    const float* plane = a + (i - (int64_t(q.h) * p.w + q.w));
    for (int h = win.lo(q.h); h <= win.hi(q.h, p.h); ++h)
      for (int w = win.lo(q.w); w <= win.hi(q.w, p.w); ++w) {
        const float v = plane[h * p.w + w];
        sum += kSquare ? v * v : v;
      }
  } else {
    const int64_t plane_size = int64_t(p.h) * p.w;
    const float* column = a + (i - q.c * plane_size);
    for (int c = win.lo(q.c); c <= win.hi(q.c, p.c); ++c) {
      const float v = column[c * plane_size];
      sum += kSquare ? v * v : v;
    }
  }
  return sum;
}

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

__global__ void lrn_forward_kernel(const float* __restrict__ x, float* __restrict__ y, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    y[i] = x[i] * powf(d, -p.beta);
  }
}

// t_j = dy_j x_j d_j^(-beta-1)
__global__ void lrn_backward_terms_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                          float* __restrict__ t, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    t[i] = dy[i] * x[i] * powf(d, -p.beta - 1.0f);
  }
}

__global__ void lrn_backward_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                    const float* __restrict__ t, float* __restrict__ dx, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    const float spread = window_sum<false>(t, i, p, true);
    dx[i] = dy[i] * powf(d, -p.beta) - 2.0f * p.beta * p.alpha_eff * x[i] * spread;
  }
}

}  // namespace

void lrn_forward(const float* x, float* y, const LrnParams& p, cudaStream_t stream) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  if (total == 0) return;
  lrn_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(x, y, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn_forward_kernel");
}

void lrn_backward(const float* dy, const float* x, float* dx, float* scratch, const LrnParams& p,
                  cudaStream_t stream) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  if (total == 0) return;
  lrn_backward_terms_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(dy, x, scratch, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn_backward_terms_kernel");
  lrn_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(dy, x, scratch, dx, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
