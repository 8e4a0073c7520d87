// 2-D max and average pooling, NCHW, PyTorch window rules (the caller has
// computed the output size, ceil_mode included). One thread per output
// element in the forward passes; average backward gathers (one thread per
// input element, summing the windows that cover it: no atomics); max
// backward scatters through the saved indices (it gets no window geometry),
// with atomicAdd where windows overlap.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// Output element i -> its plane (n * c + c) and window origin.
struct OutPos {
  int64_t plane;
  int oy, ox;
};
__device__ __forceinline__ OutPos out_pos(int64_t i, const Pool2dShape& s) {
  const int ox = int(i % s.ow), oy = int((i / s.ow) % s.oh);
  return {i / (int64_t(s.ow) * s.oh), oy, ox};
}

// Max over the window; the first (lowest-offset) maximum wins ties. NaN
// propagates, like PyTorch.
__global__ void max_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                        int32_t* __restrict__ indices, Pool2dShape s) {
  const int64_t total = int64_t(s.n) * s.c * s.oh * s.ow;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const OutPos o = out_pos(i, s);
    const int h0 = o.oy * s.sh - s.ph, w0 = o.ox * s.sw - s.pw;
    const int hb = max(h0, 0), he = min(h0 + s.kh, s.h), wb = max(w0, 0), we = min(w0 + s.kw, s.w);
    const float* plane = x + o.plane * s.h * s.w;
    float best = -INFINITY;
    int best_at = hb * s.w + wb;
    for (int h = hb; h < he; ++h)
      for (int w = wb; w < we; ++w) {
        const float v = plane[h * s.w + w];
        if (v > best || (isnan(v) && !isnan(best))) best = v, best_at = h * s.w + w;
      }
    y[i] = best;
    indices[i] = best_at;
  }
}

__global__ void max_pool_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices,
                                         float* __restrict__ dx, int64_t planes, int64_t out_plane,
                                         int64_t in_plane) {
  for (int64_t i = global_thread(); i < planes * out_plane; i += grid_threads()) {
    const int32_t at = indices[i];
    // Indices come from max_pool2d_forward; an out-of-range one (corrupted
    // input) must not write outside dx.
    if (at >= 0 && at < in_plane) atomicAdd(dx + (i / out_plane) * in_plane + at, dy[i]);
  }
}

// Divisor of output (oy, ox): the window clipped to the padded input
// (count_include_pad) or to the input itself.
__device__ __forceinline__ float avg_divisor(int oy, int ox, const Pool2dShape& s, bool count_include_pad) {
  int h0 = oy * s.sh - s.ph, w0 = ox * s.sw - s.pw;
  int he = min(h0 + s.kh, s.h + s.ph), we = min(w0 + s.kw, s.w + s.pw);
  if (count_include_pad) return float((he - h0) * (we - w0));
  h0 = max(h0, 0), w0 = max(w0, 0), he = min(he, s.h), we = min(we, s.w);
  return float((he - h0) * (we - w0));
}

__global__ void avg_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y, Pool2dShape s,
                                        bool count_include_pad) {
  const int64_t total = int64_t(s.n) * s.c * s.oh * s.ow;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const OutPos o = out_pos(i, s);
    const int h0 = o.oy * s.sh - s.ph, w0 = o.ox * s.sw - s.pw;
    const int hb = max(h0, 0), he = min(h0 + s.kh, s.h), wb = max(w0, 0), we = min(w0 + s.kw, s.w);
    const float* plane = x + o.plane * s.h * s.w;
    float sum = 0.0f;
    for (int h = hb; h < he; ++h)
      for (int w = wb; w < we; ++w) sum += plane[h * s.w + w];
    y[i] = sum / avg_divisor(o.oy, o.ox, s, count_include_pad);
  }
}

// Outputs whose windows cover input coordinate `in` along one axis: the
// window of output o spans [o stride - pad, o stride - pad + kernel).
__device__ __forceinline__ void covering(int in, int pad, int kernel, int stride, int out_size, int& lo, int& hi) {
  const int p = in + pad;
  lo = p < kernel ? 0 : (p - kernel) / stride + 1;
  hi = min(p / stride, out_size - 1);
}

__global__ void avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, Pool2dShape s,
                                         bool count_include_pad) {
  const int64_t total = int64_t(s.n) * s.c * s.h * s.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int w = int(i % s.w), h = int((i / s.w) % s.h);
    const int64_t plane = i / (int64_t(s.w) * s.h);
    int oy_lo, oy_hi, ox_lo, ox_hi;
    covering(h, s.ph, s.kh, s.sh, s.oh, oy_lo, oy_hi);
    covering(w, s.pw, s.kw, s.sw, s.ow, ox_lo, ox_hi);
    const float* g = dy + plane * s.oh * s.ow;
    float sum = 0.0f;
    for (int oy = oy_lo; oy <= oy_hi; ++oy)
      for (int ox = ox_lo; ox <= ox_hi; ++ox) sum += g[oy * s.ow + ox] / avg_divisor(oy, ox, s, count_include_pad);
    dx[i] = sum;
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s, cudaStream_t stream) {
  const int64_t total = int64_t(s.n) * s.c * s.oh * s.ow;
  if (total == 0) return;
  max_pool_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(x, y, indices, s);
  DLCORE_CUDA_CHECK_LAUNCH("max_pool_forward_kernel");
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t out_plane,
                         int64_t in_plane, cudaStream_t stream) {
  if (planes * out_plane == 0) return;
  max_pool_backward_kernel<<<grid_for(planes * out_plane, kThreads), kThreads, 0, stream>>>(dy, indices, dx, planes,
                                                                                           out_plane, in_plane);
  DLCORE_CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad,
                        cudaStream_t stream) {
  const int64_t total = int64_t(s.n) * s.c * s.oh * s.ow;
  if (total == 0) return;
  avg_pool_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(x, y, s, count_include_pad);
  DLCORE_CUDA_CHECK_LAUNCH("avg_pool_forward_kernel");
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s, bool count_include_pad,
                         cudaStream_t stream) {
  const int64_t total = int64_t(s.n) * s.c * s.h * s.w;
  if (total == 0) return;
  avg_pool_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(dy, dx, s, count_include_pad);
  DLCORE_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
