// Batch normalization over an (n, c, inner) view: statistics per channel over
// n and inner.
//
// Training forward and backward run in three launches, all of them spread over
// the whole GPU (one block per channel left most SMs idle for C < #SMs and
// walked each channel serially):
//   1. partials: every block reduces a slice of one or more channels and writes
//      one partial per (thread or block) to the workspace;
//   2. finalize: one warp per channel combines that channel's partials in a
//      fixed order (no atomics: bitwise reproducible run to run), writes the
//      per-channel outputs and a 4-float coefficient table;
//   3. apply: a grid-stride elementwise pass with 16-byte accesses that reads
//      each element's coefficients from the table.
// Bytes: pass 1 reads x (and dy), pass 3 reads x (and dy) and writes y (dx);
// the workspace is < 1/16 of x. Inference is pass 3 alone.
//
// Two ways to cut the statistics into partials (see plan_partials):
//   - slices: planes of >= kMinSliceInner contiguous elements. Grid (c, chunks);
//     block (ch, k) walks elements [k per, (k+1) per) of channel ch, 16 bytes at
//     a time when the plane size allows, and block-reduces them to one partial.
//   - columns: small planes, e.g. 2-D (N, C) or 7x7 with many channels would
//     give each block short runs strided by c * inner. Instead x is an
//     (n, L = c * inner) matrix; each thread owns one column and sums it down a
//     range of rows (coalesced across the warp), writing one partial per
//     (column, row range); finalize adds a channel's inner columns too.
#include <algorithm>
#include <climits>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kFloatsPerPartial = 4;           // workspace slot of one partial (>= both partial types)
constexpr int64_t kMinSliceInner = 32;         // smaller planes use the column walk
constexpr int64_t kMinSlice = 2048;            // elements per block in the slice walk (8 per thread)
constexpr int64_t kMinColumnRows = 64;         // rows per thread in the column walk: partials <= 1/16 of x
constexpr int64_t kMaxPartialCount = 1 << 24;  // partial counts are floats: exact up to 2^24

// ---- accumulators ------------------------------------------------------------------
// Count, mean and sum of squared deviations. Combining (Chan et al.) stays
// accurate when |mean| >> std, unlike sum(x^2) - sum(x)^2 / n.
template <class T>
struct Moments {
  T n, mean, m2;
  __device__ static Moments combine(const Moments& a, const Moments& b) {
    const T n = a.n + b.n;
    if (n == T(0)) return a;
    const T delta = b.mean - a.mean, f = b.n / n;
    return {n, a.mean + delta * f, a.m2 + b.m2 + delta * delta * a.n * f};
  }
  __device__ Moments shfl_xor(int mask) const {
    return {__shfl_xor_sync(0xffffffffu, n, mask), __shfl_xor_sync(0xffffffffu, mean, mask),
            __shfl_xor_sync(0xffffffffu, m2, mask)};
  }
  __device__ Moments<double> widen() const { return {double(n), double(mean), double(m2)}; }
};

// sum(dy) and sum(dy * xhat) for the backward pass.
template <class T>
struct GradSums {
  T dy, dy_xhat;
  __device__ static GradSums combine(const GradSums& a, const GradSums& b) {
    return {a.dy + b.dy, a.dy_xhat + b.dy_xhat};
  }
  __device__ GradSums shfl_xor(int mask) const {
    return {__shfl_xor_sync(0xffffffffu, dy, mask), __shfl_xor_sync(0xffffffffu, dy_xhat, mask)};
  }
  __device__ GradSums<double> widen() const { return {double(dy), double(dy_xhat)}; }
};

// Butterfly over the warp: every lane ends with the same combination order
// for a given input, so results do not depend on scheduling.
template <class A>
__device__ __forceinline__ A warp_combine(A v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = A::combine(v, v.shfl_xor(offset));
  return v;
}

// Thread 0 gets the block's combination. `scratch` holds kThreads / kWarp partials.
template <class A>
__device__ __forceinline__ A block_combine(A v, A* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_combine(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarp;
    A w = lane < warps ? scratch[lane] : A{};
    v = warp_combine(w);
  }
  return v;
}

// ---- per-direction reducers: what one thread accumulates, what finalize writes -------
// Forward: sums about the thread's first value (a sample of its own data, so
// the shifted sums stay small), turned into Moments once per thread.
struct ForwardStats {
  using Partial = Moments<float>;
  struct Thread {
    float shift, s1 = 0.0f, s2 = 0.0f;
    int n = 0;
    __device__ void push(float x, float) {
      const float d = x - shift;
      s1 += d;
      s2 = fmaf(d, d, s2);
      ++n;
    }
    __device__ Partial partial() const {
      if (n == 0) return {0.0f, 0.0f, 0.0f};
      const float fn = float(n), d = s1 / fn;
      return {fn, shift + d, fmaxf(s2 - s1 * d, 0.0f)};
    }
  };
  const float *weight, *bias;
  float *mean_out, *invstd_out, *running_mean, *running_var;
  float momentum, eps;

  __device__ Thread start(int64_t, float first_x) const { return Thread{first_x}; }

  // y = (x - mean) * scale + shift, as table {mean, scale, shift, -}.
  __device__ void finish(int64_t c, const Moments<double>& m, float4* table) const {
    const double var = m.n > 0.0 ? fmax(m.m2 / m.n, 0.0) : 0.0;  // biased: what normalizes
    const float mean = float(m.mean), invstd = float(1.0 / sqrt(var + double(eps)));
    mean_out[c] = mean;
    invstd_out[c] = invstd;
    if (running_mean) running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
    // The binding guarantees n > 1 when running_var is given.
    if (running_var) running_var[c] = (1.0f - momentum) * running_var[c] + momentum * float(var * m.n / (m.n - 1.0));
    const float scale = (weight ? weight[c] : 1.0f) * invstd;
    table[c] = make_float4(mean, scale, bias ? bias[c] : 0.0f, 0.0f);
  }
};

// Backward, xhat = (x - mean) invstd, M = n * inner:
//   dbias = sum dy, dweight = sum dy xhat,
//   dx = weight invstd (dy - dbias / M - xhat dweight / M)
struct BackwardSums {
  using Partial = GradSums<float>;
  struct Thread {
    float mu, is, dy = 0.0f, dy_xhat = 0.0f;
    __device__ void push(float x, float g) {
      dy += g;
      dy_xhat = fmaf(g, (x - mu) * is, dy_xhat);
    }
    __device__ Partial partial() const { return {dy, dy_xhat}; }
  };
  const float *weight, *mean, *invstd;
  float *dweight, *dbias;
  double count;

  __device__ Thread start(int64_t c, float) const { return Thread{__ldg(mean + c), __ldg(invstd + c)}; }

  // dx = k (dy - mean_dy - (x - mu) h), as table {mu, h = invstd mean_dy_xhat, k, mean_dy}.
  __device__ void finish(int64_t c, const GradSums<double>& s, float4* table) const {
    if (dweight) dweight[c] = float(s.dy_xhat);
    if (dbias) dbias[c] = float(s.dy);
    const float is = invstd[c], k = (weight ? weight[c] : 1.0f) * is;
    table[c] = make_float4(mean[c], is * float(s.dy_xhat / count), k, float(s.dy / count));
  }
};

// ---- pass 1: partials ------------------------------------------------------------
template <int V>
__device__ __forceinline__ void load_vec(const float* p, int64_t unit, float (&v)[V]) {
  if constexpr (V == 4) {
    const float4 t = __ldg(reinterpret_cast<const float4*>(p) + unit);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
    v[0] = __ldg(p + unit);
  }
}

// Slice walk, all sizes in units of V floats (V = 4 needs inner % 4 == 0, so a
// unit never leaves its plane). The thread's unit j of channel ch is at
// (j / inner * c + ch) * inner + j % inner; stepping j by blockDim adds
// step_units = (blockDim / inner) * row + blockDim % inner, plus row - inner on a wrap:
// no division in the loop.
template <class I>
struct SliceWalk {
  I inner, row;        // plane size and c * inner
  I per_channel, per;  // units per channel and per block
  I step_units, step_q;
};

template <class R, int V, class I>
__global__ void __launch_bounds__(kThreads)
    slice_partials_kernel(const float* __restrict__ x, const float* __restrict__ dy, R r,
                          typename R::Partial* __restrict__ partial, SliceWalk<I> w) {
  using P = typename R::Partial;
  __shared__ P scratch[kThreads / kWarp];
  const I ch = blockIdx.x, chunk = blockIdx.y;
  const I end = min(w.per_channel, (chunk + 1) * w.per);
  I j = chunk * w.per + I(threadIdx.x);
  I q = j % w.inner, off = (j / w.inner * I(gridDim.x) + ch) * w.inner + q;  // once per thread
  float first[V] = {};
  if (j < end) load_vec<V>(x, off, first);
  typename R::Thread t = r.start(ch, first[0]);
  for (; j < end; j += blockDim.x) {
    float xv[V], gv[V] = {};
    load_vec<V>(x, off, xv);
    if (dy) load_vec<V>(dy, off, gv);
#pragma unroll
    for (int k = 0; k < V; ++k) t.push(xv[k], gv[k]);
    off += w.step_units;
    q += w.step_q;
    if (q >= w.inner) q -= w.inner, off += w.row - w.inner;
  }
  const P sum = block_combine(t.partial(), scratch);
  if (threadIdx.x == 0) partial[int64_t(chunk) * gridDim.x + ch] = sum;
}

// Column walk: x as an (n, row) matrix. A block covers `cols` columns and
// `subs` = blockDim / cols interleaved row sets (several when row < blockDim,
// so that small rows still fill the block); grid (column blocks, row chunks).
template <class I>
struct ColumnWalk {
  I n, row, inner, cols, subs, rows_per_chunk;
};

template <class R, class I>
__global__ void __launch_bounds__(kThreads)
    column_partials_kernel(const float* __restrict__ x, const float* __restrict__ dy, R r,
                           typename R::Partial* __restrict__ partial, ColumnWalk<I> w) {
  const I sub = I(threadIdx.x) / w.cols, col = I(blockIdx.x) * w.cols + I(threadIdx.x) % w.cols;
  if (sub >= w.subs || col >= w.row) return;  // no block reduction follows: early exit is safe
  const I r0 = I(blockIdx.y) * w.rows_per_chunk, r1 = min(w.n, r0 + w.rows_per_chunk);
  I off = (r0 + sub) * w.row + col;
  const I step = w.subs * w.row;
  typename R::Thread t = r.start(col / w.inner, r0 + sub < r1 ? __ldg(x + off) : 0.0f);
#pragma unroll 4
  for (I i = r0 + sub; i < r1; i += w.subs, off += step) t.push(__ldg(x + off), dy ? __ldg(dy + off) : 0.0f);
  partial[(int64_t(blockIdx.y) * w.subs + sub) * w.row + col] = t.partial();
}

// ---- pass 2: finalize ------------------------------------------------------------
// Partial i of channel ch sits at (i / inner) * stride + ch * inner + i % inner,
// i < count: slices have inner = 1, stride = c; columns inner = plane size,
// stride = row. One warp per channel, in double: a fixed order, so reproducible.
struct PartialLayout {
  int64_t c, count, inner, stride;
};

template <class R>
__global__ void __launch_bounds__(kThreads)
    finalize_kernel(const typename R::Partial* __restrict__ partial, R r, float4* __restrict__ table, PartialLayout p) {
  const int64_t ch = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  if (ch >= p.c) return;
  const int lane = threadIdx.x % kWarp;
  using Wide = decltype(partial->widen());
  Wide acc{};
  for (int64_t i = lane; i < p.count; i += kWarp)
    acc = Wide::combine(acc, partial[(i / p.inner) * p.stride + ch * p.inner + i % p.inner].widen());
  acc = warp_combine(acc);
  if (lane == 0) r.finish(ch, acc, table);
}

// ---- pass 3: apply -----------------------------------------------------------------
// out = fn(coefficients of the element's channel, x, dy).
struct TableCoefs {
  const float4* table;
  __device__ float4 operator()(int64_t c) const { return __ldg(table + c); }
};
struct InferenceCoefs {
  const float *weight, *bias, *running_mean, *running_var;
  float eps;
  __device__ float4 operator()(int64_t c) const {
    const float scale = (weight ? __ldg(weight + c) : 1.0f) * rsqrtf(__ldg(running_var + c) + eps);
    return make_float4(__ldg(running_mean + c), scale, bias ? __ldg(bias + c) : 0.0f, 0.0f);
  }
};
struct NormalizeFn {  // {mean, scale, shift, -}
  __device__ float operator()(const float4& k, float x, float) const { return fmaf(x - k.x, k.y, k.z); }
};
struct GradInputFn {  // {mu, h, k, mean_dy}
  __device__ float operator()(const float4& k, float x, float g) const { return k.z * (g - k.w - (x - k.x) * k.y); }
};

// Flat grid-stride over units of V elements. The channel of the thread's
// first element is decoded once; a grid step moves the plane offset by step_q
// and the channel by step_c (plus one on a wrap). A unit may cross a plane
// boundary when inner % 4 != 0: then its elements step one by one.
template <class I>
struct ApplyWalk {
  I units, inner, c, step_q, step_c;
};

template <int V, class I, class Coefs, class Fn>
__global__ void __launch_bounds__(kThreads) apply_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                                         float* __restrict__ out, Coefs coefs, Fn fn, ApplyWalk<I> w) {
  I u = I(blockIdx.x) * blockDim.x + threadIdx.x;
  const I stride = I(gridDim.x) * blockDim.x;
  I q = (u * V) % w.inner, ch = (u * V) / w.inner % w.c;  // once per thread
  for (; u < w.units; u += stride) {
    float xv[V], gv[V] = {}, yv[V];
    load_vec<V>(x, u, xv);
    if (dy) load_vec<V>(dy, u, gv);
    float4 k = coefs(ch);
    if (q + V <= w.inner) {  // the common case: one channel for the whole unit
#pragma unroll
      for (int e = 0; e < V; ++e) yv[e] = fn(k, xv[e], gv[e]);
    } else {
      I qq = q, cc = ch;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        yv[e] = fn(k, xv[e], gv[e]);
        if (++qq == w.inner) {
          qq = 0;
          if (++cc == w.c) cc = 0;
          k = coefs(cc);
        }
      }
    }
    if constexpr (V == 4) {
      reinterpret_cast<float4*>(out)[u] = make_float4(yv[0], yv[1], yv[2], yv[3]);
    } else {
      out[u] = yv[0];
    }
    q += w.step_q;
    ch += w.step_c;
    if (q >= w.inner) q -= w.inner, ++ch;
    if (ch >= w.c) ch -= w.c;
  }
}

// The < 4 elements after the last float4 unit.
template <class Coefs, class Fn>
__global__ void apply_tail_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ out,
                                  Coefs coefs, Fn fn, int64_t begin, int64_t total, int64_t inner, int64_t c) {
  const int64_t i = begin + threadIdx.x;
  if (i < total) out[i] = fn(coefs(i / inner % c), x[i], dy ? dy[i] : 0.0f);
}

// ---- host side -------------------------------------------------------------------------
bool fits_int32(const BatchNormShape& s) {
  // Offsets may run one grid step (< 2^26) past the end before the loop test.
  return s.n * s.c * s.inner < (int64_t(1) << 30);
}

// How pass 1 cuts the statistics; a function of the shape only, so the
// binding's workspace size and the launch agree.
struct PartialPlan {
  bool columns;
  int64_t chunks;      // grid.y
  int64_t per;         // slices: elements per block (multiple of 4 * kThreads); columns: rows per chunk
  int64_t cols, subs;  // columns only
  int64_t partials;    // total partials written
};

PartialPlan plan_partials(const BatchNormShape& s) {
  const int64_t sms = multiprocessor_count(), per_channel = s.n * s.inner, row = s.c * s.inner;
  PartialPlan p{};
  p.columns = s.inner < kMinSliceInner;
  if (!p.columns) {
    // About two waves of blocks, each with >= kMinSlice elements and an exact float count.
    const int64_t want = std::max<int64_t>(1, ceil_div<int64_t>(16 * sms, s.c));
    int64_t chunks = std::clamp<int64_t>(want, ceil_div(per_channel, kMaxPartialCount),
                                         std::max<int64_t>(1, per_channel / kMinSlice));
    p.per = ceil_div<int64_t>(ceil_div(per_channel, chunks), 4 * kThreads) * (4 * kThreads);
    p.chunks = ceil_div(per_channel, p.per);
    p.partials = p.chunks * s.c;
  } else {
    p.cols = std::min<int64_t>(row, kThreads);
    p.subs = kThreads / p.cols;
    // Enough threads to fill every SM, each summing >= kMinColumnRows rows.
    const int64_t threads_per_chunk = ceil_div<int64_t>(row, p.cols) * p.cols * p.subs;
    const int64_t want = ceil_div<int64_t>(sms * 2048, threads_per_chunk);
    int64_t chunks = std::clamp<int64_t>(want, 1, std::max<int64_t>(1, s.n / (kMinColumnRows * p.subs)));
    chunks = std::min<int64_t>(chunks, 65535);
    p.per = ceil_div(s.n, chunks);
    p.chunks = ceil_div(s.n, p.per);
    p.partials = p.chunks * p.subs * row;
  }
  return p;
}

template <class R, class I>
void launch_partials(const PartialPlan& p, const float* x, const float* dy, const R& r, typename R::Partial* partial,
                     const BatchNormShape& s, cudaStream_t stream) {
  if (p.columns) {
    const ColumnWalk<I> w{I(s.n), I(s.c * s.inner), I(s.inner), I(p.cols), I(p.subs), I(p.per)};
    const dim3 grid(unsigned(ceil_div<int64_t>(s.c * s.inner, p.cols)), unsigned(p.chunks));
    check_grid(grid, "batch_norm");
    column_partials_kernel<R, I><<<grid, kThreads, 0, stream>>>(x, dy, r, partial, w);
    DLCORE_CUDA_CHECK_LAUNCH("column_partials_kernel");
    return;
  }
  const dim3 grid(unsigned(s.c), unsigned(p.chunks));
  check_grid(grid, "batch_norm");
  auto launch = [&](auto v) {
    constexpr int V = decltype(v)::value;
    const I inner = I(s.inner / V);
    const SliceWalk<I> w{inner,
                         I(s.c) * inner,
                         I(s.n) * inner,
                         I(p.per / V),
                         I(kThreads / inner) * I(s.c) * inner + I(kThreads % inner),
                         I(kThreads % inner)};
    slice_partials_kernel<R, V, I><<<grid, kThreads, 0, stream>>>(x, dy, r, partial, w);
  };
  if (s.inner % 4 == 0 && aligned16(x) && (dy == nullptr || aligned16(dy)))
    launch(std::integral_constant<int, 4>{});
  else
    launch(std::integral_constant<int, 1>{});
  DLCORE_CUDA_CHECK_LAUNCH("slice_partials_kernel");
}

template <class I, class Coefs, class Fn>
void launch_apply(const float* x, const float* dy, float* out, Coefs coefs, Fn fn, const BatchNormShape& s,
                  cudaStream_t stream) {
  const int64_t total = s.n * s.c * s.inner;
  auto launch = [&](auto v) {
    constexpr int V = decltype(v)::value;
    const int64_t units = total / V;
    if (units == 0) return;
    // One resident wave (8 blocks of 256 per SM): every thread loops, no tail wave.
    const unsigned grid = grid_for(units, kThreads, int64_t(multiprocessor_count()) * 8);
    const int64_t step = int64_t(grid) * kThreads * V;
    const ApplyWalk<I> w{I(units), I(s.inner), I(s.c), I(step % s.inner), I(step / s.inner % s.c)};
    apply_kernel<V, I><<<grid, kThreads, 0, stream>>>(x, dy, out, coefs, fn, w);
    DLCORE_CUDA_CHECK_LAUNCH("apply_kernel");
  };
  const bool vec = aligned16(x, out) && (dy == nullptr || aligned16(dy));
  if (vec)
    launch(std::integral_constant<int, 4>{});
  else
    launch(std::integral_constant<int, 1>{});
  const int64_t done = vec ? total / 4 * 4 : total;
  if (done < total) {
    apply_tail_kernel<<<1, 32, 0, stream>>>(x, dy, out, coefs, fn, done, total, s.inner, s.c);
    DLCORE_CUDA_CHECK_LAUNCH("apply_tail_kernel");
  }
}

// Passes 1 and 2 for either direction; the table lands at the workspace start.
template <class R>
float4* reduce_channels(const float* x, const float* dy, const R& r, float* workspace, const BatchNormShape& s,
                        cudaStream_t stream) {
  const PartialPlan p = plan_partials(s);
  float4* table = reinterpret_cast<float4*>(workspace);
  auto* partial = reinterpret_cast<typename R::Partial*>(workspace + 4 * s.c);
  if (fits_int32(s))
    launch_partials<R, int>(p, x, dy, r, partial, s, stream);
  else
    launch_partials<R, int64_t>(p, x, dy, r, partial, s, stream);
  const PartialLayout layout = p.columns ? PartialLayout{s.c, p.chunks * p.subs * s.inner, s.inner, s.c * s.inner}
                                         : PartialLayout{s.c, p.chunks, 1, s.c};
  finalize_kernel<R>
      <<<unsigned(ceil_div<int64_t>(s.c, kThreads / kWarp)), kThreads, 0, stream>>>(partial, r, table, layout);
  DLCORE_CUDA_CHECK_LAUNCH("finalize_kernel");
  return table;
}

template <class Coefs, class Fn>
void apply(const float* x, const float* dy, float* out, Coefs coefs, Fn fn, const BatchNormShape& s,
           cudaStream_t stream) {
  if (fits_int32(s))
    launch_apply<int>(x, dy, out, coefs, fn, s, stream);
  else
    launch_apply<int64_t>(x, dy, out, coefs, fn, s, stream);
}

}  // namespace

int64_t batch_norm_workspace(BatchNormShape s) {
  if (s.c == 0 || s.n * s.inner == 0) return 0;
  return 4 * s.c + kFloatsPerPartial * plan_partials(s).partials;
}

void batch_norm_forward_training(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                 float* invstd, float* running_mean, float* running_var, float* workspace,
                                 BatchNormShape s, float momentum, float eps, cudaStream_t stream) {
  if (s.c == 0 || s.n * s.inner == 0) return;  // the binding rejects c > 0 without values
  const ForwardStats r{weight, bias, mean, invstd, running_mean, running_var, momentum, eps};
  const float4* table = reduce_channels(x, nullptr, r, workspace, s, stream);
  apply(x, nullptr, y, TableCoefs{table}, NormalizeFn{}, s, stream);
}

void batch_norm_forward_inference(const float* x, const float* weight, const float* bias, const float* running_mean,
                                  const float* running_var, float* y, BatchNormShape s, float eps,
                                  cudaStream_t stream) {
  if (s.n * s.c * s.inner == 0) return;
  apply(x, nullptr, y, InferenceCoefs{weight, bias, running_mean, running_var, eps}, NormalizeFn{}, s, stream);
}

void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* mean, const float* invstd,
                         float* dx, float* dweight, float* dbias, float* workspace, BatchNormShape s,
                         cudaStream_t stream) {
  if (s.c == 0 || s.n * s.inner == 0) return;
  const BackwardSums r{weight, mean, invstd, dweight, dbias, double(s.n * s.inner)};
  const float4* table = reduce_channels(x, dy, r, workspace, s, stream);
  apply(x, dy, dx, TableCoefs{table}, GradInputFn{}, s, stream);
}

}  // namespace cuda
}  // namespace dlcore
