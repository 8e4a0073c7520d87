// Local response normalization, NCHW:
//   y_i = x_i d_i^-beta,  d_i = k + alpha_eff sum_{j in win(i)} x_j^2
// win(i) across channels: channels [c - size/2, c + (size-1)/2] (PyTorch's
// placement; symmetric for odd sizes); within a channel: the size x size
// pixels [h - size/2, h + (size-1)/2] x [w - size/2, w + (size-1)/2].
// Out-of-range neighbours count as zeros.
//
// Exact backward: dx_i = dy_i d_i^-beta
//                        - 2 beta alpha_eff x_i sum_{j : i in win(j)} dy_j x_j d_j^(-beta-1)
// The terms t_j = dy_j x_j d_j^(-beta-1) are summed over the transposed
// window, [c - (size-1)/2, c + size/2], gathered per i (no atomics).
//
// Column kernels (window sizes 1..kMaxSize, a template parameter): a thread
// owns one "lane" and kChunk consecutive positions along the window's
// vertical axis: across, a pixel and kChunk channels; within, a pixel column
// and kChunk rows. Consecutive threads are consecutive pixels of a plane, so
// every load and store is coalesced. The thread loads the kChunk + size - 1
// cells its windows need once into registers (a cell is x^2 across, the
// horizontal window sum of x^2 within), then sums each window directly from
// registers: size additions per output, no running sum whose subtractions
// would lose accuracy after a large value leaves the window.
//   Across backward is one fused pass: the thread recomputes d and t over its
// chunk plus the transposed-window halo (all in registers), so x and dy are
// read once and the scratch is unused. Within backward keeps two passes (t
// into scratch, then the gather): its halo is two-dimensional.
//   Larger windows fall back to the general kernels (per-element window loops).
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;        // general kernels
constexpr int kColumnThreads = 128;  // column kernels: more blocks for small planes
constexpr int kChunk = 16;           // positions per thread along the window axis
constexpr int kMaxSize = 9;          // largest window with a column kernel

// ---- general kernels: any window size, one thread per element, windows re-read from memory

struct Pos {
  int64_t n;
  int c, h, w;
};
__device__ __forceinline__ Pos pos_of(int64_t i, const LrnParams& p) {
  return {i / (int64_t(p.c) * p.h * p.w), int((i / (int64_t(p.h) * p.w)) % p.c), int((i / p.w) % p.h), int(i % p.w)};
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

__global__ void general_forward_kernel(const float* __restrict__ x, float* __restrict__ y, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    y[i] = x[i] * powf(d, -p.beta);
  }
}

// t_j = dy_j x_j d_j^(-beta-1)
__global__ void general_backward_terms_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                              float* __restrict__ t, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    t[i] = dy[i] * x[i] * powf(d, -p.beta - 1.0f);
  }
}

__global__ void general_backward_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                        const float* __restrict__ t, float* __restrict__ dx, LrnParams p) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const float d = p.k + p.alpha_eff * window_sum<true>(x, i, p, false);
    const float spread = window_sum<false>(t, i, p, true);
    dx[i] = dy[i] * powf(d, -p.beta) - 2.0f * p.beta * p.alpha_eff * x[i] * spread;
  }
}

// ---- column kernels ------------------------------------------------------------

// The lanes of a column launch: outer x inner lanes, each a column of `extent`
// positions `inner` elements apart. Across: outer = N, inner = H W, extent = C.
// Within: outer = N C, inner = W, extent = H.
struct Columns {
  int64_t lanes, inner;
  int extent, width;  // width: W (the horizontal window, within only)
};

Columns columns_of(const LrnParams& p) {
  if (p.within) return {int64_t(p.n) * p.c * p.w, p.w, p.h, p.w};
  return {int64_t(p.n) * p.h * p.w, int64_t(p.h) * p.w, p.c, p.w};
}

// This thread's lane: the offset of its position 0 and its pixel column
// (within). Two divisions per thread, amortized over whole chunks.
struct Lane {
  int64_t base, stride;
  int extent, w, width;
  bool valid;
};

// 32-bit division: column launches need lanes < 2^31 (a 64-bit division is a
// called subroutine that made these kernels spill).
__device__ __forceinline__ Lane lane_of(const Columns& g) {
  const uint32_t lane = blockIdx.x * blockDim.x + threadIdx.x, inner = uint32_t(g.inner);
  const uint32_t outer = lane / inner, in = lane - outer * inner;
  return {int64_t(outer) * g.extent * g.inner + in,
          g.inner,
          g.extent,
          int(in % uint32_t(g.width)),
          g.width,
          lane < g.lanes};
}

// The window of position `at`: [at - before, at + after]. The transposed
// window (the j whose windows hold `at`) swaps the two.
template <int kSize>
struct Reach {
  static constexpr int before = kSize / 2, after = (kSize - 1) / 2;
};

// Cell j of array a along the lane: f(a) at position j across; within, the
// sum of f(a) over the (transposed) horizontal window of row j. Zero outside.
template <int kSize, bool kWithin, bool kSquare, bool kTransposed>
__device__ __forceinline__ float cell(const float* __restrict__ a, const Lane& l, int j) {
  if (j < 0 || j >= l.extent) return 0.0f;
  const float* at = a + l.base + j * l.stride;
  if (!kWithin) return kSquare ? at[0] * at[0] : at[0];
  constexpr int before = kTransposed ? Reach<kSize>::after : Reach<kSize>::before;
  float sum = 0.0f;
#pragma unroll
  for (int q = 0; q < kSize; ++q) {
    const int w = l.w - before + q;
    if (w >= 0 && w < l.width) {
      const float v = at[q - before];
      sum += kSquare ? v * v : v;
    }
  }
  return sum;
}

// v[r] = cell(first + r): every load of the chunk issued before any use.
template <int kSize, bool kWithin, bool kSquare, bool kTransposed, int N>
__device__ __forceinline__ void load_cells(float (&v)[N], const float* __restrict__ a, const Lane& l, int first) {
#pragma unroll
  for (int r = 0; r < N; ++r) v[r] = cell<kSize, kWithin, kSquare, kTransposed>(a, l, first + r);
}

// Direct sum of f(v[at .. at + kSize)); `at` is a constant once unrolled.
template <int kSize, bool kSquare = false, int N>
__device__ __forceinline__ float window_sum(const float (&v)[N], int at) {
  float sum = 0.0f;
#pragma unroll
  for (int q = 0; q < kSize; ++q) sum += kSquare ? v[at + q] * v[at + q] : v[at + q];
  return sum;
}

// What a column pass writes at position i (d_i, the window sum, is computed for all).
enum class Pass {
  Forward,  // y_i = x_i d_i^-beta
  Terms,    // t_i = dy_i x_i d_i^(-beta-1)
  Gradient  // dx_i = dy_i d_i^-beta - 2 beta alpha_eff x_i sum_{transposed window} t
};

// Chunks of kChunk positions: blockIdx.y strides over them (more than 65535 fit).
#define DLCORE_FOR_CHUNKS(j0, extent) \
  for (int j0 = int(blockIdx.y) * kChunk; j0 < (extent); j0 += int(gridDim.y) * kChunk)

template <int kSize, bool kWithin, Pass kPass>
__global__ void __launch_bounds__(kColumnThreads)
    column_kernel(const float* __restrict__ x, const float* __restrict__ dy, const float* __restrict__ t,
                  float* __restrict__ out, Columns g, LrnParams p) {
  const Lane l = lane_of(g);
  if (!l.valid) return;
  using Fwd = Reach<kSize>;
  DLCORE_FOR_CHUNKS(j0, l.extent) {
    float sq[kChunk + kSize - 1];  // sq[r]: cell at j0 - before + r
    load_cells<kSize, kWithin, true, false>(sq, x, l, j0 - Fwd::before);
    float tw[kPass == Pass::Gradient ? kChunk + kSize - 1 : 1];  // tw[m]: t cell at j0 - after + m
    if constexpr (kPass == Pass::Gradient) load_cells<kSize, kWithin, false, true>(tw, t, l, j0 - Fwd::after);
#pragma unroll
    for (int i = 0; i < kChunk; ++i) {
      if (j0 + i >= l.extent) continue;
      const int64_t at = l.base + (j0 + i) * l.stride;
      const float d = p.k + p.alpha_eff * window_sum<kSize>(sq, i);
      if constexpr (kPass == Pass::Forward) out[at] = x[at] * powf(d, -p.beta);
      if constexpr (kPass == Pass::Terms) out[at] = dy[at] * x[at] * powf(d, -p.beta - 1.0f);
      if constexpr (kPass == Pass::Gradient)
        out[at] = dy[at] * powf(d, -p.beta) - 2.0f * p.beta * p.alpha_eff * x[at] * window_sum<kSize>(tw, i);
    }
  }
}

// Across backward in one pass. Registers, for output positions j0 .. j0 + kChunk - 1:
//   xr[r] = x at j0 - (size - 1) + r   (every x that a d of a needed t reads)
//   dyr[m], tr[m] = dy, t at j0 - after + m   (the transposed windows' t)
template <int kSize>
__global__ void __launch_bounds__(kColumnThreads)
    across_backward_kernel(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ dx, Columns g,
                           LrnParams p) {
  const Lane l = lane_of(g);
  if (!l.valid) return;
  using Fwd = Reach<kSize>;
  constexpr int kT = kChunk + kSize - 1;
  DLCORE_FOR_CHUNKS(j0, l.extent) {
    float xr[kT + kSize - 1], dyr[kT], tr[kT];
    load_cells<kSize, false, false, false>(xr, x, l, j0 - (kSize - 1));
    load_cells<kSize, false, false, false>(dyr, dy, l, j0 - Fwd::after);
#pragma unroll
    for (int m = 0; m < kT; ++m) {
      // t at j = j0 - after + m: its x is xr[m + before], its window xr[m .. m + size).
      const int j = j0 - Fwd::after + m;
      const float d = p.k + p.alpha_eff * window_sum<kSize, true>(xr, m);
      tr[m] = j >= 0 && j < l.extent ? dyr[m] * xr[m + Fwd::before] * powf(d, -p.beta - 1.0f) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kChunk; ++i) {
      if (j0 + i >= l.extent) continue;
      // Position j0 + i: x = xr[i + size - 1], dy = dyr[i + after], d over
      // xr[i + after ..], transposed window tr[i .. i + size).
      const float d = p.k + p.alpha_eff * window_sum<kSize, true>(xr, i + Fwd::after);
      dx[l.base + (j0 + i) * l.stride] = dyr[i + Fwd::after] * powf(d, -p.beta) -
                                         2.0f * p.beta * p.alpha_eff * xr[i + kSize - 1] * window_sum<kSize>(tr, i);
    }
  }
}

#undef DLCORE_FOR_CHUNKS

dim3 column_grid(const Columns& g) {
  const int64_t chunks = ceil_div<int64_t>(g.extent, kChunk);
  return dim3(unsigned(ceil_div<int64_t>(g.lanes, kColumnThreads)), unsigned(chunks < 65535 ? chunks : 65535));
}

// Calls f(std::integral_constant<int, size>) for 1 <= size <= kMaxSize; false otherwise.
template <int kSize = 1, class F>
bool with_size(int size, F&& f) {
  if constexpr (kSize > kMaxSize) {
    return false;
  } else {
    if (size != kSize) return with_size<kSize + 1>(size, f);
    f(std::integral_constant<int, kSize>{});
    return true;
  }
}

// Whether the column kernels take this call (else the general kernels do).
bool column_fits(const LrnParams& p) {
  const Columns g = columns_of(p);
  return p.size <= kMaxSize && g.lanes + kColumnThreads < (int64_t(1) << 31);
}

template <Pass kPass>
bool column_pass(const float* x, const float* dy, const float* t, float* out, const LrnParams& p, cudaStream_t stream) {
  const Columns g = columns_of(p);
  return column_fits(p) && with_size(p.size, [&](auto size) {
           if (p.within)
             column_kernel<size(), true, kPass><<<column_grid(g), kColumnThreads, 0, stream>>>(x, dy, t, out, g, p);
           else
             column_kernel<size(), false, kPass><<<column_grid(g), kColumnThreads, 0, stream>>>(x, dy, t, out, g, p);
           DLCORE_CUDA_CHECK_LAUNCH("lrn column_kernel");
         });
}

bool across_backward(const float* dy, const float* x, float* dx, const LrnParams& p, cudaStream_t stream) {
  if (p.within || !column_fits(p)) return false;
  const Columns g = columns_of(p);
  return with_size(p.size, [&](auto size) {
    across_backward_kernel<size()><<<column_grid(g), kColumnThreads, 0, stream>>>(dy, x, dx, g, p);
    DLCORE_CUDA_CHECK_LAUNCH("lrn across_backward_kernel");
  });
}

}  // namespace

void lrn_forward(const float* x, float* y, const LrnParams& p, cudaStream_t stream) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  if (total == 0) return;
  if (column_pass<Pass::Forward>(x, nullptr, nullptr, y, p, stream)) return;
  general_forward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(x, y, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn general_forward_kernel");
}

void lrn_backward(const float* dy, const float* x, float* dx, float* scratch, const LrnParams& p, cudaStream_t stream) {
  const int64_t total = int64_t(p.n) * p.c * p.h * p.w;
  if (total == 0) return;
  if (across_backward(dy, x, dx, p, stream)) return;
  if (column_pass<Pass::Terms>(x, dy, nullptr, scratch, p, stream)) {
    column_pass<Pass::Gradient>(x, dy, scratch, dx, p, stream);
    return;
  }
  general_backward_terms_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(dy, x, scratch, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn general_backward_terms_kernel");
  general_backward_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(dy, x, scratch, dx, p);
  DLCORE_CUDA_CHECK_LAUNCH("lrn general_backward_kernel");
}

}  // namespace cuda
}  // namespace dlcore
