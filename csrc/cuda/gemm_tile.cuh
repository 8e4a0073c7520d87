// The block-level SGEMM core shared by gemm.cu and conv.cu (implicit GEMM).
//
// One thread block computes a BM x BN tile of C = op(A) op(B), walking K in
// steps of BK:
//   global -> registers (Loader::fetch, the next K step, in flight while the
//   current one is multiplied) -> shared memory (Loader::stash, the other half
//   of a double buffer) -> registers (float4 fragments) -> 8x8 FMAs/thread.
//
// Layout (256 threads = 8 warps):
//   block tile 128 x 128, warps 2 (M) x 4 (N), warp tile 64 x 32,
//   lanes 8 (M) x 4 (N), thread tile 8 x 8 = 2 x 2 fragments of 4 x 4 that
//   sit 32 rows / 16 columns apart, so the lanes of a warp read 8 (A) and 4 (B)
//   distinct, contiguous float4 from shared memory: no bank conflicts,
//   the rest are broadcasts.
// Shared tiles are stored K-major, S[k][mn], rows padded by 4 floats: the
// transposing stores of a K-contiguous loader (two lanes per mn, k 4 apart)
// then land in different banks, and float4 reads stay 16-byte aligned.
//
// A Loader is anything with
//   __device__ void fetch(int k0);        // its 4 elements of the K step at k0 -> registers
//   __device__ void stash(float* tile);   // registers -> shared tile S[BK][kLds]
// built on TileRegs below (which fixes which 4 elements a thread owns); an
// Epilogue has
//   __device__ void store4(int m, int n, float4 v);  // C(m, n..n+3) = v, bounds-checked
#pragma once
#include <algorithm>

#include "cuda/common.cuh"

namespace dlcore {
namespace cuda {
namespace tile {

constexpr int kBM = 128, kBN = 128, kBK = 8;
constexpr int kThreads = 256;
constexpr int kLds = kBM + 4;  // padded shared row (kBM == kBN)
constexpr int kWarpsN = 4;
constexpr int kWM = 64, kWN = 32;  // warp tile
constexpr int kLanesN = 4;         // lanes along N inside a warp (8 along M)
static_assert(kBM == kBN, "one padded row length serves both tiles");
static_assert(kBM * kBK == kThreads * 4, "each thread moves exactly 4 elements per tile");

// Which 4 elements of a BK x 128 operand tile this thread owns.
//  kContig (the operand is contiguous along K): row mn = tid / 2, k = 4 (tid % 2) + 0..3
//  otherwise (contiguous along M or N):          k = tid / 32, mn = 4 (tid % 32) + 0..3
// Consecutive threads then walk the operand's contiguous direction: coalesced.
template <bool kContig>
struct TileRegs {
  float r[4];
  __device__ static int my_mn() { return kContig ? threadIdx.x / 2 : (threadIdx.x % 32) * 4; }
  __device__ static int my_k() { return kContig ? (threadIdx.x % 2) * 4 : threadIdx.x / 32; }
  __device__ void stash(float* s) const {
    const int mn = my_mn(), k = my_k();
    if (kContig) {
#pragma unroll
      for (int i = 0; i < 4; ++i) s[(k + i) * kLds + mn] = r[i];
    } else {
      *reinterpret_cast<float4*>(s + k * kLds + mn) = make_float4(r[0], r[1], r[2], r[3]);
    }
  }
};

// A dense row-major operand: element (mn, k) is p[mn * ld + k] when kContig,
// p[k * ld + mn] otherwise. `vec` (ld % 4 == 0 and p 16-byte aligned) allows
// one 16-byte load per fetch; edges fall back to bounds-checked scalars.
template <bool kContig>
struct MatrixLoader : TileRegs<kContig> {
  const float* p;
  int64_t ld;
  int mn_total, k_total, mn0;
  bool vec;

  __device__ MatrixLoader(const float* p_, int64_t ld_, int mn_total_, int k_total_, int mn0_, bool vec_)
      : p(p_), ld(ld_), mn_total(mn_total_), k_total(k_total_), mn0(mn0_), vec(vec_) {}

  __device__ void fetch(int k0) {
    const int mn = mn0 + this->my_mn(), k = k0 + this->my_k();
    if (kContig) {
      const float* src = p + int64_t(mn) * ld + k;
      if (vec && mn < mn_total && k + 3 < k_total) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(src));
        this->r[0] = v.x, this->r[1] = v.y, this->r[2] = v.z, this->r[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) this->r[i] = (mn < mn_total && k + i < k_total) ? __ldg(src + i) : 0.0f;
      }
    } else {
      const float* src = p + int64_t(k) * ld + mn;
      if (vec && k < k_total && mn + 3 < mn_total) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(src));
        this->r[0] = v.x, this->r[1] = v.y, this->r[2] = v.z, this->r[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) this->r[i] = (k < k_total && mn + i < mn_total) ? __ldg(src + i) : 0.0f;
      }
    }
  }
};

// The K loop every tiled kernel shares: C tile (held by `math`) += op(A) tile
// x op(B) tile over k in [k_begin, k_end). k_begin must be a multiple of kBK
// when the range is a slice of a longer K (split-K), so that no K step
// straddles two slices. `Math` does the multiply of one BK step:
//   __device__ void step(const float* a_tile, const float* b_tile);  // S[kBK][kLds] each
// Measured on an H100 (SGEMM, 2048-8192) and not kept: two K steps per
// barrier (0.84x cuBLAS vs 0.85x), and 128 threads with an 8 x 16 thread tile
// (0.81x: a quarter less shared-memory traffic per FMA, but half the warps).
// The loaders are taken by value: a private copy the compiler keeps in
// registers (by reference, the NT SGEMM kernel spilled 16 bytes).
template <class Math, class LoaderA, class LoaderB>
__device__ __forceinline__ void mainloop(LoaderA la, LoaderB lb, int k_begin, int k_end, Math& math) {
  __shared__ __align__(32) float as[2][kBK * kLds];
  __shared__ __align__(32) float bs[2][kBK * kLds];

  const int steps = k_end > k_begin ? ceil_div(k_end - k_begin, kBK) : 0;
  if (steps > 0) {
    la.fetch(k_begin);
    lb.fetch(k_begin);
    la.stash(as[0]);
    lb.stash(bs[0]);
  }
  __syncthreads();

  for (int step = 0; step < steps; ++step) {
    const int cur = step & 1;
    const bool more = step + 1 < steps;
    if (more) {  // next step's global loads are in flight during this step's math
      la.fetch(k_begin + (step + 1) * kBK);
      lb.fetch(k_begin + (step + 1) * kBK);
    }
    math.step(as[cur], bs[cur]);
    if (more) {  // the other buffer: its last readers finished before the previous barrier
      la.stash(as[cur ^ 1]);
      lb.stash(bs[cur ^ 1]);
    }
    __syncthreads();
  }
}

// Split-K slices are whole multiples of this many k (so no K step straddles two).
constexpr int kStage = 2 * kBK;

// Split-K: when the output has too few tiles to fill the GPU, K is cut into
// `slices` ranges of `slice` (a whole number of stages) computed by separate
// blocks into a workspace, then summed in a fixed order (sum_slices in
// kernels.h: no atomics, the result does not depend on scheduling).
struct SplitPlan {
  int slices, slice;
};
inline SplitPlan plan_split_k(int64_t tiles, int k_total, int sm_count, int max_slices = 65535) {
  const int stages = std::max(1, ceil_div(k_total, kStage));
  int64_t want = ceil_div<int64_t>(2 * int64_t(sm_count), std::max<int64_t>(tiles, 1));  // ~2 waves
  want = std::min<int64_t>({want, std::max(1, stages / 4), max_slices});                 // >= 4 stages per slice
  want = std::max<int64_t>(want, 1);
  const int slice = ceil_div(stages, int(want)) * kStage;
  return {ceil_div(std::max(k_total, 1), slice), slice};
}

// Strict float32: each thread owns an 8 x 8 block of C in registers, fed by
// float4 fragments from shared memory (see the layout at the top).
struct FfmaMath {
  float acc[8][8];
  int a_col, b_col;  // this thread's first row of the M tile / column of the N tile

  __device__ FfmaMath() {
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    a_col = (warp / kWarpsN) * kWM + (lane / kLanesN) * 4;
    b_col = (warp % kWarpsN) * kWN + (lane % kLanesN) * 4;
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;
  }

  __device__ __forceinline__ void step(const float* a_tile, const float* b_tile) {
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float* arow = a_tile + kk * kLds + a_col;
      const float* brow = b_tile + kk * kLds + b_col;
      const float4 a_lo = *reinterpret_cast<const float4*>(arow);
      const float4 a_hi = *reinterpret_cast<const float4*>(arow + kWM / 2);
      const float4 b_lo = *reinterpret_cast<const float4*>(brow);
      const float4 b_hi = *reinterpret_cast<const float4*>(brow + kWN / 2);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }

  // Hands every owned element of the tile at (m0, n0) to ep.store4.
  template <class Epilogue>
  __device__ __forceinline__ void store(const Epilogue& ep, int m0, int n0) const {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = m0 + a_col + (i / 4) * (kWM / 2) + i % 4;
      ep.store4(m, n0 + b_col, make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
      ep.store4(m, n0 + b_col + kWN / 2, make_float4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]));
    }
  }
};

// The whole block: K loop with FFMA math, then the epilogue.
template <class LoaderA, class LoaderB, class Epilogue>
__device__ __forceinline__ void block_gemm(const LoaderA& la, const LoaderB& lb, int k_begin, int k_end, int m0, int n0,
                                           const Epilogue& ep) {
  FfmaMath math;
  mainloop(la, lb, k_begin, k_end, math);
  math.store(ep, m0, n0);
}

}  // namespace tile
}  // namespace cuda
}  // namespace dlcore
