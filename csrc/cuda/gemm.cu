// SGEMM: C = alpha op(A) op(B) + beta C, row-major, strict float32.
// The block-level algorithm lives in gemm_tile.cuh (shared with conv.cu);
// this file adds the alpha/beta epilogue, instantiates one kernel per
// transpose case, and an opt-in TF32 tensor-core variant (same tiles and
// loaders, WMMA math) selected by GemmParams::tf32 / _cuda.set_allow_tf32().
#include <mma.h>

#include "cuda/gemm_tile.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

// C(m, n..n+3) = alpha v + beta C; beta == 0 never reads C (it may hold NaN).
struct GemmEpilogue {
  float* c;
  int64_t ldc;
  int m, n;
  float alpha, beta;
  bool vec;  // ldc % 4 == 0 and c 16-byte aligned

  __device__ __forceinline__ void store4(int row, int col, float4 v) const {
    if (row >= m || col >= n) return;
    float* dst = c + int64_t(row) * ldc + col;
    float out[4] = {alpha * v.x, alpha * v.y, alpha * v.z, alpha * v.w};
    if (vec && col + 3 < n) {
      if (beta != 0.0f) {
        const float4 old = *reinterpret_cast<const float4*>(dst);
        out[0] = fmaf(beta, old.x, out[0]), out[1] = fmaf(beta, old.y, out[1]);
        out[2] = fmaf(beta, old.z, out[2]), out[3] = fmaf(beta, old.w, out[3]);
      }
      *reinterpret_cast<float4*>(dst) = make_float4(out[0], out[1], out[2], out[3]);
      return;
    }
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (col + e < n) dst[e] = beta != 0.0f ? fmaf(beta, dst[e], out[e]) : out[e];
  }
};

// What one block of the launch computes: its tile's origin, its K range
// (blockIdx.z is the split-K slice), and where the result goes: C with
// alpha/beta, or (split) its own slice of the workspace, raw.
struct BlockJob {
  int m0, n0, k_begin, k_end;
  GemmEpilogue ep;
  __device__ BlockJob(const GemmParams& p, int slice, bool vec_c) {
    m0 = blockIdx.y * tile::kBM, n0 = blockIdx.x * tile::kBN;
    k_begin = blockIdx.z * slice, k_end = min(p.k, k_begin + slice);
    if (gridDim.z > 1)
      ep = {p.workspace + int64_t(blockIdx.z) * p.m * p.n, p.n, p.m, p.n, 1.0f, 0.0f, p.n % 4 == 0};
    else
      ep = {p.c, p.ldc, p.m, p.n, p.alpha, p.beta, vec_c};
  }
};

// op(A)(m, k) is a[m lda + k] (contiguous along K) unless transposed;
// op(B)(k, n) is b[k ldb + n] (contiguous along N) unless transposed.
template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(tile::kThreads, 2)
    sgemm_kernel(GemmParams p, int slice, bool vec_a, bool vec_b, bool vec_c) {
  const BlockJob job(p, slice, vec_c);
  tile::MatrixLoader<!kTransA> la(p.a, p.lda, p.m, p.k, job.m0, vec_a);
  tile::MatrixLoader<kTransB> lb(p.b, p.ldb, p.n, p.k, job.n0, vec_b);
  tile::block_gemm(la, lb, job.k_begin, job.k_end, job.m0, job.n0, job.ep);
}

// TF32 tensor cores (sm_80+): the same shared tiles read as WMMA fragments.
// The A tile S[k][m] is a column-major 16x8 fragment source, the B tile
// S[k][n] a row-major one, both with leading dimension kLds. Each warp owns
// its 64 x 32 warp tile as 4 x 2 accumulators of 16 x 16. Inputs are rounded
// to TF32 (10 mantissa bits): relative error ~1e-3 of |A||B|, hence opt-in.
namespace wmma = nvcuda::wmma;

struct Tf32Math {
  static constexpr int kFragM = 4, kFragN = 2;  // 16x16 accumulators per warp tile
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[kFragM][kFragN];
  int warp_m, warp_n;

  __device__ Tf32Math() {
    const int warp = threadIdx.x / kWarp;
    warp_m = (warp / tile::kWarpsN) * tile::kWM;
    warp_n = (warp % tile::kWarpsN) * tile::kWN;
#pragma unroll
    for (int i = 0; i < kFragM; ++i)
#pragma unroll
      for (int j = 0; j < kFragN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  }

  __device__ __forceinline__ void step(const float* a_tile, const float* b_tile) {
    static_assert(tile::kBK == 8, "one TF32 WMMA k-step per K step");
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a[kFragM];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[kFragN];
#pragma unroll
    for (int i = 0; i < kFragM; ++i) {
      wmma::load_matrix_sync(a[i], a_tile + warp_m + 16 * i, tile::kLds);
#pragma unroll
      for (int t = 0; t < a[i].num_elements; ++t) a[i].x[t] = wmma::__float_to_tf32(a[i].x[t]);
    }
#pragma unroll
    for (int j = 0; j < kFragN; ++j) {
      wmma::load_matrix_sync(b[j], b_tile + warp_n + 16 * j, tile::kLds);
#pragma unroll
      for (int t = 0; t < b[j].num_elements; ++t) b[j].x[t] = wmma::__float_to_tf32(b[j].x[t]);
    }
#pragma unroll
    for (int i = 0; i < kFragM; ++i)
#pragma unroll
      for (int j = 0; j < kFragN; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }

  // Accumulators go through a per-warp 16x16 patch of shared memory (their
  // register layout is opaque), then to the bounds-checked epilogue.
  template <class Epilogue>
  __device__ __forceinline__ void store(const Epilogue& ep, int m0, int n0) {
    __shared__ __align__(32) float patch[tile::kThreads / kWarp][16 * 16];
    float* mine = patch[threadIdx.x / kWarp];
    const int lane = threadIdx.x % kWarp, row = lane / 2, col = (lane % 2) * 8;
#pragma unroll
    for (int i = 0; i < kFragM; ++i)
#pragma unroll
      for (int j = 0; j < kFragN; ++j) {
        wmma::store_matrix_sync(mine, acc[i][j], 16, wmma::mem_row_major);
        __syncwarp();
        const float* src = mine + row * 16 + col;
        const int m = m0 + warp_m + 16 * i + row, n = n0 + warp_n + 16 * j + col;
        ep.store4(m, n, make_float4(src[0], src[1], src[2], src[3]));
        ep.store4(m, n + 4, make_float4(src[4], src[5], src[6], src[7]));
        __syncwarp();  // before the next fragment overwrites the patch
      }
  }
};

template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(tile::kThreads, 2)
    sgemm_tf32_kernel(GemmParams p, int slice, bool vec_a, bool vec_b, bool vec_c) {
  const BlockJob job(p, slice, vec_c);
  tile::MatrixLoader<!kTransA> la(p.a, p.lda, p.m, p.k, job.m0, vec_a);
  tile::MatrixLoader<kTransB> lb(p.b, p.ldb, p.n, p.k, job.n0, vec_b);
  Tf32Math math;
  tile::mainloop(la, lb, job.k_begin, job.k_end, math);
  math.store(job.ep, job.m0, job.n0);
}

// Split K only when the output alone cannot occupy every multiprocessor
// (the FC layers: M = minibatch, K in the thousands); with a full wave of
// tiles the extra workspace pass would cost more than it gains.
tile::SplitPlan plan(const GemmParams& p) {
  const int64_t tiles = int64_t(ceil_div(p.m, tile::kBM)) * ceil_div(p.n, tile::kBN);
  const int sms = multiprocessor_count();
  if (tiles >= sms || p.k < 4 * tile::kStage) return {1, std::max(p.k, 1)};
  return tile::plan_split_k(tiles, p.k, sms);
}

template <bool kTransA, bool kTransB>
void launch(const GemmParams& p, cudaStream_t stream) {
  const tile::SplitPlan split = plan(p);
  const dim3 grid(ceil_div(p.n, tile::kBN), ceil_div(p.m, tile::kBM), split.slices);
  check_grid(grid, "gemm");
  const bool vec_a = p.lda % 4 == 0 && aligned16(p.a), vec_b = p.ldb % 4 == 0 && aligned16(p.b);
  const bool vec_c = p.ldc % 4 == 0 && aligned16(p.c);
  if (p.tf32) {
    sgemm_tf32_kernel<kTransA, kTransB><<<grid, tile::kThreads, 0, stream>>>(p, split.slice, vec_a, vec_b, vec_c);
    DLCORE_CUDA_CHECK_LAUNCH("sgemm_tf32_kernel");
  } else {
    sgemm_kernel<kTransA, kTransB><<<grid, tile::kThreads, 0, stream>>>(p, split.slice, vec_a, vec_b, vec_c);
    DLCORE_CUDA_CHECK_LAUNCH("sgemm_kernel");
  }
  if (split.slices > 1) sum_slices(p.workspace, p.c, int64_t(p.m) * p.n, split.slices, p.alpha, p.beta, stream);
}

// out[i] = alpha * sum over slices (in order) of partial[slice][i] + beta * out[i];
// beta == 0 never reads out.
__global__ void sum_slices_kernel(const float* __restrict__ partial, float* __restrict__ out, int64_t count, int slices,
                                  float alpha, float beta) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int j = 0; j < slices; ++j) s += partial[j * count + i];
    out[i] = beta != 0.0f ? fmaf(beta, out[i], alpha * s) : alpha * s;
  }
}

}  // namespace

const char* gemm_variant(const GemmParams& p) {
  static const char* names[2][2][2] = {
      {{"sgemm_fp32_128x128x8_nn", "sgemm_fp32_128x128x8_nt"}, {"sgemm_fp32_128x128x8_tn", "sgemm_fp32_128x128x8_tt"}},
      {{"sgemm_tf32_wmma_128x128x8_nn", "sgemm_tf32_wmma_128x128x8_nt"},
       {"sgemm_tf32_wmma_128x128x8_tn", "sgemm_tf32_wmma_128x128x8_tt"}}};
  return names[p.tf32][p.trans_a][p.trans_b];
}

int64_t gemm_workspace(const GemmParams& p) {
  const tile::SplitPlan split = plan(p);
  return split.slices > 1 ? int64_t(split.slices) * p.m * p.n : 0;
}

void sum_slices(const float* partial, float* out, int64_t count, int slices, float alpha, float beta,
                cudaStream_t stream) {
  sum_slices_kernel<<<grid_for(count, 256), 256, 0, stream>>>(partial, out, count, slices, alpha, beta);
  DLCORE_CUDA_CHECK_LAUNCH("sum_slices_kernel");
}

void gemm(const GemmParams& p, cudaStream_t stream) {
  if (p.m == 0 || p.n == 0) return;
  if (!p.trans_a && !p.trans_b)
    launch<false, false>(p, stream);
  else if (!p.trans_a && p.trans_b)
    launch<false, true>(p, stream);
  else if (p.trans_a && !p.trans_b)
    launch<true, false>(p, stream);
  else
    launch<true, true>(p, stream);
}

}  // namespace cuda
}  // namespace dlcore
