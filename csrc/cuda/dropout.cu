// Dropout: y = x * mask / (1 - p), mask from Philox (see philox.h), so the
// mask is a pure function of (seed, index): the same on any launch shape.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/philox.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// One thread per Philox call: call c draws the 8 elements 128 (c / 16) + 16 k + c % 16.
__global__ void dropout_forward_kernel(const float* __restrict__ x, float* __restrict__ y, uint8_t* __restrict__ mask,
                                       int64_t n, uint32_t threshold, float scale, uint64_t seed) {
  const int64_t calls = (n + 127) / 128 * philox::kCallsPerGroup;
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < calls; c += int64_t(gridDim.x) * blockDim.x) {
    const philox::Uint4 r = philox::call(seed, uint64_t(c));
    const int64_t first = (c / philox::kCallsPerGroup) * 128 + c % philox::kCallsPerGroup;
#pragma unroll
    for (int k = 0; k < philox::kElementsPerCall; ++k) {
      const int64_t i = first + int64_t(k) * philox::kCallsPerGroup;
      if (i >= n) break;
      const bool kept = philox::keep_part(r, k, threshold);
      mask[i] = kept;
      y[i] = kept ? x[i] * scale : 0.0f;
    }
  }
}

__global__ void dropout_backward_kernel(const float* __restrict__ dy, const uint8_t* __restrict__ mask,
                                        float* __restrict__ dx, int64_t n, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

// 1 / (1 - p); p == 1 drops everything, so the scale never multiplies anything.
float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

}  // namespace

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, cudaStream_t stream) {
  if (n == 0) return;
  const int64_t calls = (n + 127) / 128 * philox::kCallsPerGroup;
  dropout_forward_kernel<<<grid_for(calls, kThreads), kThreads, 0, stream>>>(x, y, mask, n, philox::keep_threshold(p),
                                                                             keep_scale(p), seed);
  DLCORE_CUDA_CHECK_LAUNCH("dropout_forward_kernel");
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p, cudaStream_t stream) {
  if (n == 0) return;
  dropout_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(dy, mask, dx, n, keep_scale(p));
  DLCORE_CUDA_CHECK_LAUNCH("dropout_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
