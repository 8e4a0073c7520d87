// Shared by every csrc/cuda/*.cu: error checks, launch helpers, warp/block
// reductions. Device code only sees this header and kernels.h, never pybind11,
// so nvcc's per-architecture passes stay cheap.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/error.h"

namespace dlcore {
namespace cuda {

constexpr int kWarp = 32;

template <class T>
__host__ __device__ inline T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

// Blocks for a grid-stride loop over n items: enough to fill the GPU several
// times over, never more than the work needs, never above the grid limit.
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65535LL * 8) {
  int64_t blocks = ceil_div<int64_t>(n, threads);
  if (blocks > max_blocks) blocks = max_blocks;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

// True when every pointer is 16-byte aligned, so float4 accesses are legal.
template <class... P>
inline bool aligned16(const P*... ptrs) {
  return ((reinterpret_cast<uintptr_t>(ptrs) % 16 == 0) && ...);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the whole block; every thread gets the result. `scratch` holds one
// float per warp (<= 32). Safe to call repeatedly: it syncs before reuse.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_sum(v);
  __syncthreads();  // a previous call may still be reading scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

// Online softmax state: running max m and sum s of exp(x - m). Combining two
// states rescales the smaller-max sum, so one pass over a row suffices.
struct MaxSum {
  float m, s;
};

__device__ __forceinline__ MaxSum maxsum_combine(MaxSum a, MaxSum b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  const float m = fmaxf(a.m, b.m);
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ __forceinline__ MaxSum maxsum_push(MaxSum a, float x) { return maxsum_combine(a, MaxSum{x, 1.0f}); }

__device__ __forceinline__ MaxSum warp_maxsum(MaxSum v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    MaxSum o{__shfl_xor_sync(0xffffffffu, v.m, offset), __shfl_xor_sync(0xffffffffu, v.s, offset)};
    v = maxsum_combine(v, o);
  }
  return v;
}

// Block-wide online max/sum; every thread gets the result. `scratch` holds 64 floats.
__device__ __forceinline__ MaxSum block_maxsum(MaxSum v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_maxsum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v.m, scratch[kWarp + warp] = v.s;
  __syncthreads();
  v = lane < warps ? MaxSum{scratch[lane], scratch[kWarp + lane]} : MaxSum{-INFINITY, 0.0f};
  return warp_maxsum(v);
}

// A row handled by one warp (kBlock = false) or by the whole block: the
// reductions and the thread's rank within the row differ, nothing else.
template <bool kBlock>
struct RowGroup {
  __device__ static int rank() { return kBlock ? threadIdx.x : threadIdx.x % kWarp; }
  __device__ static int size() { return kBlock ? blockDim.x : kWarp; }
  // First row of this group and the distance to its next row (grid-stride).
  __device__ static int64_t first_row() {
    return kBlock ? blockIdx.x : int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  }
  __device__ static int64_t row_step() { return kBlock ? gridDim.x : int64_t(gridDim.x) * (blockDim.x / kWarp); }
  __device__ static float sum(float v, float* scratch) { return kBlock ? block_sum(v, scratch) : warp_sum(v); }
  __device__ static MaxSum maxsum(MaxSum v, float* scratch) {
    return kBlock ? block_maxsum(v, scratch) : warp_maxsum(v);
  }
};

// Grid limits: y and z at most 65535 blocks. Shapes that big raise instead of
// launching a kernel that the driver refuses with a vaguer message.
inline void check_grid(const dim3& grid, const char* op) {
  if (grid.y > 65535u || grid.z > 65535u)
    throw std::runtime_error(std::string(op) + ": problem too large for one launch (grid " + std::to_string(grid.x) +
                             " x " + std::to_string(grid.y) + " x " + std::to_string(grid.z) + " blocks)");
}

}  // namespace cuda
}  // namespace dlcore
