// Batch normalization over an (n, c, inner) view: statistics per channel over
// n and inner. One block per channel does the per-channel reductions (a tree
// of per-thread partial sums: deterministic, no atomics) and then the
// elementwise pass over the same channel while its data is still in L2.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 512;

// Flat offset of the j-th element of channel c (j over n * inner).
__device__ __forceinline__ int64_t channel_offset(int64_t j, int64_t c, const BatchNormShape& s) {
  return ((j / s.inner) * s.c + c) * s.inner + j % s.inner;
}

// Two passes (mean, then the mean of squared deviations) rather than
// E[x^2] - E[x]^2, which cancels catastrophically when |mean| >> std.
__global__ void __launch_bounds__(kThreads) batch_norm_training_kernel(
    const float* __restrict__ x, const float* __restrict__ weight, const float* __restrict__ bias,
    float* __restrict__ y, float* __restrict__ mean_out, float* __restrict__ invstd_out,
    float* __restrict__ running_mean, float* __restrict__ running_var, BatchNormShape s, float momentum,
    float eps) {
  __shared__ float scratch[kWarp];
  const int64_t c = blockIdx.x, count = s.n * s.inner;
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) sum += x[channel_offset(j, c, s)];
  const float mean = block_sum(sum, scratch) / float(count);
  float sq = 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const float d = x[channel_offset(j, c, s)] - mean;
    sq = fmaf(d, d, sq);
  }
  const float var = block_sum(sq, scratch) / float(count);  // biased: what normalizes
  const float invstd = rsqrtf(var + eps);
  if (threadIdx.x == 0) {
    mean_out[c] = mean;
    invstd_out[c] = invstd;
    if (running_mean) running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
    if (running_var) {
      const float unbiased = var * float(count) / float(count - 1);
      running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
    }
  }
  const float scale = (weight ? weight[c] : 1.0f) * invstd, shift = bias ? bias[c] : 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int64_t i = channel_offset(j, c, s);
    y[i] = fmaf(x[i] - mean, scale, shift);
  }
}

__global__ void batch_norm_inference_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                            const float* __restrict__ bias, const float* __restrict__ running_mean,
                                            const float* __restrict__ running_var, float* __restrict__ y,
                                            BatchNormShape s, float eps) {
  const int64_t total = s.n * s.c * s.inner;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / s.inner) % s.c;
    const float scale = (weight ? weight[c] : 1.0f) * rsqrtf(running_var[c] + eps);
    y[i] = fmaf(x[i] - running_mean[c], scale, bias ? bias[c] : 0.0f);
  }
}

// Training-mode gradient, xhat = (x - mean) invstd, M = n * inner:
//   dbias = sum dy, dweight = sum dy xhat,
//   dx = weight invstd (dy - dbias / M - xhat dweight / M)
__global__ void __launch_bounds__(kThreads) batch_norm_backward_kernel(
    const float* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ weight,
    const float* __restrict__ mean, const float* __restrict__ invstd, float* __restrict__ dx,
    float* __restrict__ dweight, float* __restrict__ dbias, BatchNormShape s) {
  __shared__ float scratch[kWarp];
  const int64_t c = blockIdx.x, count = s.n * s.inner;
  const float mu = mean[c], is = invstd[c];
  float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int64_t i = channel_offset(j, c, s);
    sum_dy += dy[i];
    sum_dy_xhat = fmaf(dy[i], (x[i] - mu) * is, sum_dy_xhat);
  }
  sum_dy = block_sum(sum_dy, scratch);
  sum_dy_xhat = block_sum(sum_dy_xhat, scratch);
  if (threadIdx.x == 0) {
    if (dweight) dweight[c] = sum_dy_xhat;
    if (dbias) dbias[c] = sum_dy;
  }
  const float k = (weight ? weight[c] : 1.0f) * is;
  const float mean_dy = sum_dy / float(count), mean_dy_xhat = sum_dy_xhat / float(count);
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int64_t i = channel_offset(j, c, s);
    const float xhat = (x[i] - mu) * is;
    dx[i] = k * (dy[i] - mean_dy - xhat * mean_dy_xhat);
  }
}

}  // namespace

void batch_norm_forward_training(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                 float* invstd, float* running_mean, float* running_var, BatchNormShape s,
                                 float momentum, float eps, cudaStream_t stream) {
  if (s.c == 0) return;
  batch_norm_training_kernel<<<unsigned(s.c), kThreads, 0, stream>>>(x, weight, bias, y, mean, invstd,
                                                                      running_mean, running_var, s, momentum, eps);
  DLCORE_CUDA_CHECK_LAUNCH("batch_norm_training_kernel");
}

void batch_norm_forward_inference(const float* x, const float* weight, const float* bias,
                                  const float* running_mean, const float* running_var, float* y,
                                  BatchNormShape s, float eps, cudaStream_t stream) {
  const int64_t total = s.n * s.c * s.inner;
  if (total == 0) return;
  batch_norm_inference_kernel<<<grid_for(total, 256), 256, 0, stream>>>(x, weight, bias, running_mean, running_var,
                                                                        y, s, eps);
  DLCORE_CUDA_CHECK_LAUNCH("batch_norm_inference_kernel");
}

void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* mean,
                         const float* invstd, float* dx, float* dweight, float* dbias, BatchNormShape s,
                         cudaStream_t stream) {
  if (s.c == 0) return;
  batch_norm_backward_kernel<<<unsigned(s.c), kThreads, 0, stream>>>(dy, x, weight, mean, invstd, dx, dweight,
                                                                      dbias, s);
  DLCORE_CUDA_CHECK_LAUNCH("batch_norm_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
