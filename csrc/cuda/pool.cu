// 2-D max and average pooling, NCHW, PyTorch window rules (the caller has
// computed the output size, ceil_mode included).
//
// Every kernel walks a flat index over (plane, row, column) with kPerThread
// items per thread, strided by the block size so each warp store stays
// coalesced. The flat index is decoded into (plane, row, column) with 32-bit
// multiply-high division (FastDiv) when the total fits in int32, else with
// plain int64 division: 64-bit division and modulo cost dozens of
// instructions each and dominated the old one-output-per-thread kernels.
//
// Forward: one thread per output, the window reduced by a MaxWindow or
// AvgWindow. Average backward gathers (one thread per input element, summing
// the windows that cover it: no atomics, deterministic). Max backward scatters
// through the saved indices (it gets no window geometry), with atomicAdd where
// windows overlap.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 4;  // independent items per thread: loads in flight, fewer blocks

// n / d and n % d for a divisor fixed at launch. The 32-bit version replaces
// the division by a multiply-high and a shift (valid for 0 <= n < 2^31,
// d >= 1; the usual round-up magic number with p = 31 + ceil(log2 d)).
template <class Index>
struct FastDiv;

template <>
struct FastDiv<int32_t> {
  uint32_t d = 1, mul = 0, shr = 0;
  FastDiv() = default;
  explicit FastDiv(int32_t divisor) : d(uint32_t(divisor)) {
    if (d == 1) return;
    int log2 = 0;
    while ((1u << log2) < d) ++log2;  // ceil(log2 d), d >= 2 so log2 >= 1
    const uint64_t p = 31 + log2;
    mul = uint32_t(((uint64_t(1) << p) + d - 1) / d);
    shr = uint32_t(p - 32);
  }
  __device__ __forceinline__ int32_t div(int32_t n) const {
    return d == 1 ? n : int32_t(__umulhi(uint32_t(n), mul) >> shr);
  }
};

template <>
struct FastDiv<int64_t> {
  int64_t d = 1;
  FastDiv() = default;
  explicit FastDiv(int64_t divisor) : d(divisor) {}
  __device__ __forceinline__ int64_t div(int64_t n) const { return n / d; }
};

// A flat index over (plane, row, column) of planes of rows x cols items.
template <class Index>
struct Grid3 {
  Index total;
  int rows, cols;
  FastDiv<Index> by_cols, by_rows;
  Grid3(int64_t planes, int rows_, int cols_)
      : total(Index(planes * rows_ * cols_)), rows(rows_), cols(cols_), by_cols(cols_), by_rows(rows_) {}
};

struct Pos3 {
  int64_t plane;
  int row, col;
};

template <class Index>
__device__ __forceinline__ Pos3 decode(Index i, const Grid3<Index>& g) {
  const Index line = g.by_cols.div(i), plane = g.by_rows.div(line);
  return {int64_t(plane), int(line - plane * g.rows), int(i - line * g.cols)};
}

// Calls f(i, pos) for this thread's items of the flat index.
template <class Index, class F>
__device__ __forceinline__ void for_items(const Grid3<Index>& g, F f) {
  const Index first = Index(blockIdx.x) * (kThreads * kPerThread) + threadIdx.x;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const Index i = first + Index(k) * kThreads;
    if (i < g.total) f(i, decode(i, g));
  }
}

template <class Index>
unsigned blocks_for(const Grid3<Index>& g) {
  return unsigned(ceil_div<int64_t>(int64_t(g.total), int64_t(kThreads) * kPerThread));
}

// The input rectangle of output (oy, ox), clipped to the input.
struct Window {
  int hb, he, wb, we;
};
__device__ __forceinline__ Window window_of(int oy, int ox, const Pool2dShape& s) {
  const int h0 = oy * s.sh - s.ph, w0 = ox * s.sw - s.pw;
  return {max(h0, 0), min(h0 + s.kh, s.h), max(w0, 0), min(w0 + s.kw, s.w)};
}

// Max over the window; the first (lowest-offset) maximum wins ties. NaN
// propagates, like PyTorch (the first NaN wins).
struct MaxWindow {
  float* __restrict__ y;
  int32_t* __restrict__ indices;
  struct State {
    float best;
    int at;
  };
  __device__ State init(int first_at) const { return {-INFINITY, first_at}; }
  __device__ void add(State& st, float v, int at) const {
    if (v > st.best || (isnan(v) && !isnan(st.best))) st.best = v, st.at = at;
  }
  template <class Index>
  __device__ void store(Index i, const State& st, int, int, const Pool2dShape&) const {
    y[i] = st.best;
    indices[i] = st.at;
  }
};

// Divisor of output (oy, ox): the window clipped to the padded input
// (count_include_pad) or to the input itself.
__device__ __forceinline__ float avg_divisor(int oy, int ox, const Pool2dShape& s, bool count_include_pad) {
  int h0 = oy * s.sh - s.ph, w0 = ox * s.sw - s.pw;
  int he = min(h0 + s.kh, s.h + s.ph), we = min(w0 + s.kw, s.w + s.pw);
  if (count_include_pad) return float((he - h0) * (we - w0));
  h0 = max(h0, 0), w0 = max(w0, 0), he = min(he, s.h), we = min(we, s.w);
  return float((he - h0) * (we - w0));
}

struct AvgWindow {
  float* __restrict__ y;
  bool count_include_pad;
  using State = float;
  __device__ State init(int) const { return 0.0f; }
  __device__ void add(State& sum, float v, int) const { sum += v; }
  template <class Index>
  __device__ void store(Index i, const State& sum, int oy, int ox, const Pool2dShape& s) const {
    y[i] = sum / avg_divisor(oy, ox, s, count_include_pad);
  }
};

// One thread per output (kPerThread of them), the window visited row-major.
template <class Index, class Reduce>
__global__ void __launch_bounds__(kThreads)
    pool_forward_kernel(const float* __restrict__ x, Reduce r, Pool2dShape s, Grid3<Index> g) {
  for_items(g, [&](Index i, Pos3 o) {
    const Window win = window_of(o.row, o.col, s);
    const float* plane = x + o.plane * (int64_t(s.h) * s.w);
    auto st = r.init(win.hb * s.w + win.wb);
    for (int h = win.hb; h < win.he; ++h)
      for (int w = win.wb; w < win.we; ++w) r.add(st, plane[h * s.w + w], h * s.w + w);
    r.store(i, st, o.row, o.col, s);
  });
}

// dy[i] into dx[plane, indices[i]]; overlapping windows may pick the same
// input, hence the atomics.
template <class Index>
__global__ void __launch_bounds__(kThreads)
    max_pool_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices, float* __restrict__ dx,
                             int64_t in_plane, Grid3<Index> g) {
  for_items(g, [&](Index i, Pos3 o) {
    const int32_t at = indices[i];
    // Indices come from max_pool2d_forward; an out-of-range one (corrupted
    // input) must not write outside dx.
    if (at >= 0 && at < in_plane) atomicAdd(dx + o.plane * in_plane + at, dy[i]);
  });
}

// Outputs whose windows cover input coordinate `in` along one axis: the
// window of output o spans [o stride - pad, o stride - pad + kernel).
struct Range {
  int lo, hi;  // inclusive
};
__device__ __forceinline__ Range covering(int in, int pad, int kernel, int stride, int out_size) {
  const int p = in + pad;
  return {p < kernel ? 0 : (p - kernel) / stride + 1, min(p / stride, out_size - 1)};
}

// One thread per input element (kPerThread of them): the sum over the windows covering it.
template <class Index>
__global__ void __launch_bounds__(kThreads)
    avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, Pool2dShape s,
                             bool count_include_pad, Grid3<Index> g) {
  for_items(g, [&](Index i, Pos3 q) {
    const Range ys = covering(q.row, s.ph, s.kh, s.sh, s.oh), xs = covering(q.col, s.pw, s.kw, s.sw, s.ow);
    const float* gp = dy + q.plane * (int64_t(s.oh) * s.ow);
    float sum = 0.0f;
    // __fdividef (2 ulp): the IEEE division's slow-path call made this kernel
    // spill; the divisor is a small integer, far from its denormal/huge limits.
    for (int oy = ys.lo; oy <= ys.hi; ++oy)
      for (int ox = xs.lo; ox <= xs.hi; ++ox)
        sum += __fdividef(gp[oy * s.ow + ox], avg_divisor(oy, ox, s, count_include_pad));
    dx[i] = sum;
  });
}

// Launches kernel<Index> over `planes` planes of rows x cols items, with
// 32-bit indexing when the total (and a block-sized overshoot) fits in int32.
// `launch` is called with a Grid3<int32_t> or Grid3<int64_t>.
template <class Launch>
void over_items(int64_t planes, int rows, int cols, Launch launch) {
  const int64_t total = planes * rows * cols;
  if (total == 0) return;
  if (total + int64_t(kThreads) * kPerThread < (int64_t(1) << 31))
    launch(Grid3<int32_t>(planes, rows, cols));
  else
    launch(Grid3<int64_t>(planes, rows, cols));
}

template <class Reduce>
void pool_forward(const float* x, const Reduce& r, const Pool2dShape& s, cudaStream_t stream) {
  over_items(int64_t(s.n) * s.c, s.oh, s.ow, [&](auto g) {
    pool_forward_kernel<<<blocks_for(g), kThreads, 0, stream>>>(x, r, s, g);
    DLCORE_CUDA_CHECK_LAUNCH("pool_forward_kernel");
  });
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s, cudaStream_t stream) {
  pool_forward(x, MaxWindow{y, indices}, s, stream);
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t out_plane,
                         int64_t in_plane, cudaStream_t stream) {
  // Each plane of dy is one row of out_plane columns (the kernel needs only the plane).
  if (out_plane > INT32_MAX)
    throw std::runtime_error("max_pool2d_backward: dy planes of more than 2^31 - 1 elements are not supported");
  over_items(planes, 1, int(out_plane), [&](auto g) {
    max_pool_backward_kernel<<<blocks_for(g), kThreads, 0, stream>>>(dy, indices, dx, in_plane, g);
    DLCORE_CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
  });
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad, cudaStream_t stream) {
  pool_forward(x, AvgWindow{y, count_include_pad}, s, stream);
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s, bool count_include_pad,
                         cudaStream_t stream) {
  over_items(int64_t(s.n) * s.c, s.h, s.w, [&](auto g) {
    avg_pool_backward_kernel<<<blocks_for(g), kThreads, 0, stream>>>(dy, dx, s, count_include_pad, g);
    DLCORE_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
  });
}

}  // namespace cuda
}  // namespace dlcore
