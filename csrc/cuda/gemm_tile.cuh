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
#include <utility>

#include "cuda/common.cuh"

namespace dlcore {
namespace cuda {
namespace tile {

constexpr int kBM = 128, kBN = 128, kBK = 8;
constexpr int kThreads = 256;  // the convolution kernels' block; SGEMM runs kGemmThreads (below)
constexpr int kLds = kBM + 4;  // padded shared row (kBM == kBN)
constexpr int kWM = 64;        // warp tile rows (2 warps along M); its columns are 4 lanes x the thread tile's
constexpr int kLanesN = 4;     // lanes along N inside a warp (8 along M)
static_assert(kBM == kBN, "one padded row length serves both tiles");
static_assert(kBM * kBK == kThreads * 4, "each thread of a 256-thread block moves exactly 4 elements per tile");

// Which 4 elements of a BK x 128 operand tile this thread owns, for 256
// threads (one pass covers the tile):
//  kContig (the operand is contiguous along K): row mn = tid / 2, k = 4 (tid % 2) + 0..3
//  otherwise (contiguous along M or N):          k = tid / 32, mn = 4 (tid % 32) + 0..3
// Consecutive threads then walk the operand's contiguous direction: coalesced.
// A 128-thread block covers half of that and needs a second pass: pass 1
// owns rows 64.. (kContig) or k rows 4.. (otherwise); see Passes below.
template <bool kContig>
struct TileRegs {
  float r[4];
  int mn_off = 0, k_off = 0;  // where this pass's part of the tile starts
  __device__ void set_pass(int pass) {
    (kContig ? mn_off : k_off) = pass * (kContig ? kBM / 2 : kBK / 2);
  }
  __device__ int my_mn() const { return mn_off + (kContig ? threadIdx.x / 2 : (threadIdx.x % 32) * 4); }
  __device__ int my_k() const { return k_off + (kContig ? (threadIdx.x % 2) * 4 : threadIdx.x / 32); }
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

// A Loader made of kN passes of another: for blocks of 256 / kN threads.
template <class L, int kN>
struct Passes {
  L pass[kN];
  __device__ void fetch(int k0) {
#pragma unroll
    for (int i = 0; i < kN; ++i) pass[i].fetch(k0);
  }
  __device__ void stash(float* s) const {
#pragma unroll
    for (int i = 0; i < kN; ++i) pass[i].stash(s);
  }
};
template <class L, size_t... I>
__device__ Passes<L, sizeof...(I)> passes(const L& proto, std::index_sequence<I...>) {
  Passes<L, sizeof...(I)> p{{((void)I, proto)...}};
#pragma unroll
  for (int i = 0; i < int(sizeof...(I)); ++i) p.pass[i].set_pass(i);
  return p;
}

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

// K steps per barrier (kSub, a template argument of mainloop): the shared
// double buffer holds kSub slices of kBK, each fetched by its own copy of the
// loader, so one __syncthreads (and one round of global loads) serves
// kSub * kBK values of k. SGEMM uses kGemmSub; the convolution loaders carry
// more state per copy and spill with 2, so they keep 1.
#ifndef DLCORE_CUDA_GEMM_SUB
#define DLCORE_CUDA_GEMM_SUB 1
#endif
constexpr int kGemmSub = DLCORE_CUDA_GEMM_SUB;
constexpr int kStage = 2 * kBK;  // split-K slices are whole multiples of this (of every kSub used)
static_assert(kStage % (kGemmSub * kBK) == 0, "split-K slices must hold whole stages");

// N copies of a loader (loaders have no default constructor).
template <class T, int N>
struct Copies {
  T v[N];
  __device__ T& operator[](int i) { return v[i]; }
};
template <class T, size_t... I>
__device__ Copies<T, sizeof...(I)> copies(const T& proto, std::index_sequence<I...>) {
  return {{((void)I, proto)...}};
}

// The K loop every tiled kernel shares: C tile (held by `math`) += op(A) tile
// x op(B) tile over k in [k_begin, k_end). k_begin must be a multiple of
// kSub * kBK when the range is a slice of a longer K (split-K), so that no
// stage straddles two slices (plan_split_k's slices are multiples of kStage). `Math` does the multiply of one BK step:
//   __device__ void step(const float* a_tile, const float* b_tile);  // S[kBK][kLds] each
// The loaders are copied kSub times (one per slice of a stage); they are a
// few registers of parameters each.
template <int kSub, class Math, class LoaderA, class LoaderB>
__device__ __forceinline__ void mainloop(const LoaderA& la_proto, const LoaderB& lb_proto, int k_begin, int k_end,
                                         Math& math) {
  __shared__ __align__(32) float as[2][kSub][kBK * kLds];
  __shared__ __align__(32) float bs[2][kSub][kBK * kLds];
  auto la = copies(la_proto, std::make_index_sequence<kSub>());
  auto lb = copies(lb_proto, std::make_index_sequence<kSub>());

  constexpr int kStep = kSub * kBK;  // k per barrier
  const int steps = k_end > k_begin ? ceil_div(k_end - k_begin, kStep) : 0;
  if (steps > 0) {
#pragma unroll
    for (int u = 0; u < kSub; ++u) {
      la[u].fetch(k_begin + u * kBK);
      lb[u].fetch(k_begin + u * kBK);
      la[u].stash(as[0][u]);
      lb[u].stash(bs[0][u]);
    }
  }
  __syncthreads();

  for (int step = 0; step < steps; ++step) {
    const int cur = step & 1;
    const bool more = step + 1 < steps;
    if (more) {  // next stage's global loads are in flight during this stage's math
#pragma unroll
      for (int u = 0; u < kSub; ++u) {
        la[u].fetch(k_begin + (step + 1) * kStep + u * kBK);
        lb[u].fetch(k_begin + (step + 1) * kStep + u * kBK);
      }
    }
#pragma unroll
    for (int u = 0; u < kSub; ++u) math.step(as[cur][u], bs[cur][u]);
    if (more) {  // the other buffer: its last readers finished before the previous barrier
#pragma unroll
      for (int u = 0; u < kSub; ++u) {
        la[u].stash(as[cur ^ 1][u]);
        lb[u].stash(bs[cur ^ 1][u]);
      }
    }
    __syncthreads();
  }
}

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
  want = std::min<int64_t>({want, std::max(1, stages / 4), max_slices});  // >= 4 stages per slice
  want = std::max<int64_t>(want, 1);
  const int slice = ceil_div(stages, int(want)) * kStage;
  return {ceil_div(std::max(k_total, 1), slice), slice};
}

// Strict float32: each thread owns an 8 x kTN block of C in registers, fed by
// float4 fragments from shared memory: rows a_col + 0..3 and + 32..35 of the
// warp tile, columns b_col + 16 j + 0..3. Lanes of a warp read 8 (A) and 4 (B)
// distinct, contiguous float4: no bank conflicts, the rest are broadcasts.
// kTN = 16 with 128 threads: per k, a thread loads 8 + kTN floats from shared
// memory for 8 kTN FMAs. An SM issues 128 FMAs a cycle and reads 128 bytes of
// shared memory a cycle, so 8 x 8 uses all of it (16 floats per 64 FMAs) and
// 8 x 16 three quarters; measured on an H100 it was still slower (see
// gemm.cu), so both SGEMM and conv run 256 threads x 8 x 8 today.
template <int kBlockThreads, int kTN>
struct FfmaMath {
  static constexpr int kWarpsN = kBlockThreads / kWarp / 2;  // 2 warps along M
  static constexpr int kWN = kLanesN * kTN;
  static constexpr int kFragN = kTN / 4;
  static_assert(kWarpsN * kWN == kBN && 2 * kWM == kBM, "the warps tile the block exactly");
  float acc[8][kTN];
  int a_col, b_col;  // this thread's first row of the M tile / column of the N tile

  __device__ FfmaMath() {
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    a_col = (warp / kWarpsN) * kWM + (lane / kLanesN) * 4;
    b_col = (warp % kWarpsN) * kWN + (lane % kLanesN) * 4;
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < kTN; ++j) acc[i][j] = 0.0f;
  }

  __device__ __forceinline__ void step(const float* a_tile, const float* b_tile) {
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float* arow = a_tile + kk * kLds + a_col;
      const float* brow = b_tile + kk * kLds + b_col;
      float a[8], b[kTN];
      *reinterpret_cast<float4*>(a) = *reinterpret_cast<const float4*>(arow);
      *reinterpret_cast<float4*>(a + 4) = *reinterpret_cast<const float4*>(arow + kWM / 2);
#pragma unroll
      for (int j = 0; j < kFragN; ++j)
        *reinterpret_cast<float4*>(b + 4 * j) = *reinterpret_cast<const float4*>(brow + j * (kLanesN * 4));
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }

  // Hands every owned element of the tile at (m0, n0) to ep.store4.
  template <class Epilogue>
  __device__ __forceinline__ void store(const Epilogue& ep, int m0, int n0) const {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = m0 + a_col + (i / 4) * (kWM / 2) + i % 4;
#pragma unroll
      for (int j = 0; j < kFragN; ++j)
        ep.store4(m, n0 + b_col + j * (kLanesN * 4),
                  make_float4(acc[i][4 * j], acc[i][4 * j + 1], acc[i][4 * j + 2], acc[i][4 * j + 3]));
    }
  }
};

// The whole block: K loop with FFMA math, then the epilogue.
template <int kSub = 1, int kBlockThreads = kThreads, int kTN = 8, class LoaderA, class LoaderB, class Epilogue>
__device__ __forceinline__ void block_gemm(LoaderA& la, LoaderB& lb, int k_begin, int k_end, int m0, int n0,
                                           const Epilogue& ep) {
  FfmaMath<kBlockThreads, kTN> math;
  mainloop<kSub>(la, lb, k_begin, k_end, math);
  math.store(ep, m0, n0);
}

}  // namespace tile
}  // namespace cuda
}  // namespace dlcore
