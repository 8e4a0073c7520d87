// Activations, forward and backward. One grid-stride kernel per arity,
// templated over the formula; 16-byte loads/stores when every pointer is
// aligned (CuPy allocations are; offset views fall back to scalars), the
// tail of n % 4 elements in scalars.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <algorithm>

namespace dlcore {
namespace cuda {
namespace {

// ---- the formulas (forward: f(x); backward: dx from dy and x or y) ----
// The CPU rule (ops/eltwise/eltwise_kernels.h, docs/KERNEL_API.md): with
// slope 0 the negative side is exactly 0 (ReLU(-inf) = 0, not -inf * 0 =
// NaN; the gradient there 0 even for an infinite dy); NaN x propagates.
struct ReluForward {
  float slope;
  __device__ float operator()(float x) const {
    return x > 0.0f ? x : (slope == 0.0f ? (x != x ? x : 0.0f) : x * slope);
  }
};
struct ReluBackward {  // in = x; the gradient at 0 takes the negative side, like PyTorch
  float slope;
  __device__ float operator()(float dy, float x) const { return x > 0.0f ? dy : (slope == 0.0f ? 0.0f : dy * slope); }
};
struct SigmoidForward {
  __device__ float operator()(float x) const { return 1.0f / (1.0f + expf(-x)); }
};
struct SigmoidBackward {  // in = y
  __device__ float operator()(float dy, float y) const { return dy * y * (1.0f - y); }
};
struct TanhForward {
  __device__ float operator()(float x) const { return tanhf(x); }
};
struct TanhBackward {  // in = y
  __device__ float operator()(float dy, float y) const { return dy * (1.0f - y * y); }
};
struct EluForward {
  float alpha;
  __device__ float operator()(float x) const { return x > 0.0f ? x : alpha * expm1f(x); }
};
struct EluBackward {  // in = x
  float alpha;
  __device__ float operator()(float dy, float x) const { return x > 0.0f ? dy : dy * alpha * expf(x); }
};
struct AbsForward {
  __device__ float operator()(float x) const { return fabsf(x); }
};
struct AbsBackward {  // in = x; 0 at x == 0
  __device__ float operator()(float dy, float x) const { return x > 0.0f ? dy : (x < 0.0f ? -dy : 0.0f); }
};

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

template <class F>
__global__ void unary_kernel(F f, const float* __restrict__ x, float* __restrict__ y, int64_t n, bool vec) {
  int64_t start = global_thread();
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = start; i < n4; i += grid_threads()) {
      const float4 v = __ldg(reinterpret_cast<const float4*>(x) + i);
      reinterpret_cast<float4*>(y)[i] = make_float4(f(v.x), f(v.y), f(v.z), f(v.w));
    }
    start += n4 * 4;
  }
  for (int64_t i = start; i < n; i += grid_threads()) y[i] = f(x[i]);
}

template <class F>
__global__ void binary_kernel(F f, const float* __restrict__ dy, const float* __restrict__ in, float* __restrict__ dx,
                              int64_t n, bool vec) {
  int64_t start = global_thread();
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = start; i < n4; i += grid_threads()) {
      const float4 g = __ldg(reinterpret_cast<const float4*>(dy) + i);
      const float4 v = __ldg(reinterpret_cast<const float4*>(in) + i);
      reinterpret_cast<float4*>(dx)[i] = make_float4(f(g.x, v.x), f(g.y, v.y), f(g.z, v.z), f(g.w, v.w));
    }
    start += n4 * 4;
  }
  for (int64_t i = start; i < n; i += grid_threads()) dx[i] = f(dy[i], in[i]);
}

template <class F>
void launch_unary(F f, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  const bool vec = aligned16(x, y);
  unary_kernel<<<grid_for(vec ? ceil_div<int64_t>(n, 4) : n, kThreads), kThreads, 0, stream>>>(f, x, y, n, vec);
  DLCORE_CUDA_CHECK_LAUNCH("unary_kernel");
}

template <class F>
void launch_binary(F f, const float* dy, const float* in, float* dx, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  const bool vec = aligned16(dy, in, dx);
  binary_kernel<<<grid_for(vec ? ceil_div<int64_t>(n, 4) : n, kThreads), kThreads, 0, stream>>>(f, dy, in, dx, n, vec);
  DLCORE_CUDA_CHECK_LAUNCH("binary_kernel");
}

// ---- PReLU: weight per channel of an (outer, channels, inner) view ----
__global__ void prelu_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                     int64_t n, int64_t channels, int64_t inner) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : v * __ldg(w + (i / inner) % channels);
  }
}

// Grid (slices, channels): block (s, c) writes dx for its share of channel c
// and one partial sum of dweight to partial[c * slices + s]. No atomics, so
// dweight does not depend on scheduling.
__global__ void prelu_backward_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                      const float* __restrict__ w, float* __restrict__ dx, float* __restrict__ partial,
                                      int64_t outer, int64_t channels, int64_t inner) {
  __shared__ float scratch[kWarp];
  const int64_t c = blockIdx.y, slices = gridDim.x;
  const int64_t per_channel = outer * inner;
  const float wc = w[c];
  float sum = 0.0f;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < per_channel; j += slices * blockDim.x) {
    const int64_t i = ((j / inner) * channels + c) * inner + j % inner;
    const float v = x[i], g = dy[i];
    dx[i] = v > 0.0f ? g : g * wc;
    if (v <= 0.0f) sum += g * v;
  }
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) partial[c * slices + blockIdx.x] = sum;
}

// One warp per channel adds its slices' partial sums in a fixed order.
__global__ void sum_partials_kernel(const float* __restrict__ partial, float* __restrict__ out, int64_t rows,
                                    int64_t cols) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  if (row >= rows) return;
  float s = 0.0f;
  for (int64_t j = threadIdx.x % kWarp; j < cols; j += kWarp) s += partial[row * cols + j];
  s = warp_sum(s);
  if (threadIdx.x % kWarp == 0) out[row] = s;
}

}  // namespace

void act_forward(Act act, const float* x, float* y, int64_t n, float alpha, cudaStream_t stream) {
  switch (act) {
    case Act::Relu:
      return launch_unary(ReluForward{alpha}, x, y, n, stream);
    case Act::Sigmoid:
      return launch_unary(SigmoidForward{}, x, y, n, stream);
    case Act::Tanh:
      return launch_unary(TanhForward{}, x, y, n, stream);
    case Act::Elu:
      return launch_unary(EluForward{alpha}, x, y, n, stream);
    case Act::Abs:
      return launch_unary(AbsForward{}, x, y, n, stream);
  }
}

void act_backward(Act act, const float* dy, const float* in, float* dx, int64_t n, float alpha, cudaStream_t stream) {
  switch (act) {
    case Act::Relu:
      return launch_binary(ReluBackward{alpha}, dy, in, dx, n, stream);
    case Act::Sigmoid:
      return launch_binary(SigmoidBackward{}, dy, in, dx, n, stream);
    case Act::Tanh:
      return launch_binary(TanhBackward{}, dy, in, dx, n, stream);
    case Act::Elu:
      return launch_binary(EluBackward{alpha}, dy, in, dx, n, stream);
    case Act::Abs:
      return launch_binary(AbsBackward{}, dy, in, dx, n, stream);
  }
}

void prelu_forward(const float* x, const float* w, float* y, int64_t outer, int64_t channels, int64_t inner,
                   cudaStream_t stream) {
  const int64_t n = outer * channels * inner;
  if (n == 0) return;
  prelu_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, w, y, n, channels, inner);
  DLCORE_CUDA_CHECK_LAUNCH("prelu_forward_kernel");
}

int64_t prelu_backward_slices(int64_t outer, int64_t channels, int64_t inner) {
  // Enough blocks to fill the GPU a few times, each with >= 4 elements per thread.
  const int64_t per_channel = outer * inner;
  const int64_t want = ceil_div<int64_t>(4 * multiprocessor_count(), channels);
  const int64_t most = ceil_div<int64_t>(per_channel, 4 * kThreads);
  return std::max<int64_t>(1, std::min(want, most));
}

void prelu_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* partial,
                    int64_t outer, int64_t channels, int64_t inner, cudaStream_t stream) {
  if (channels == 0) return;
  const int64_t slices = prelu_backward_slices(outer, channels, inner);
  const dim3 grid(static_cast<unsigned>(slices), static_cast<unsigned>(channels));
  check_grid(grid, "prelu_backward");
  prelu_backward_kernel<<<grid, kThreads, 0, stream>>>(dy, x, w, dx, partial, outer, channels, inner);
  DLCORE_CUDA_CHECK_LAUNCH("prelu_backward_kernel");
  sum_partials_kernel<<<unsigned(ceil_div<int64_t>(channels, kThreads / kWarp)), kThreads, 0, stream>>>(
      partial, dw, channels, slices);
  DLCORE_CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

}  // namespace cuda
}  // namespace dlcore
