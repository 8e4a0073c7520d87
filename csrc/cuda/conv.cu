// Convolution, NCHW x OIHW, as implicit GEMMs on the tiled core of
// gemm_tile.cuh (shared-memory double buffer, 8x8 register blocking per
// thread). Nothing is unfolded in memory: the loaders below gather the GEMM
// operands straight from the tensors, so each is one kernel per group slice
// (grid z).
//
//   forward          Y[o, q]      = sum_k W[o, k] X~[k, q]     M = O/g, N = n*oh*ow, K = C/g*kh*kw
//   backward data    dX[c, q']    = sum_k W~[c, k] dY~[k, q']  M = C/g, N = n*h*w,   K = O/g*kh*kw
//   backward weights dW[o, k]     = sum_q dY[o, q] X~[k, q]^T  M = O/g, N = C/g*kh*kw, K = n*oh*ow
// with q an output pixel (img, oy, ox), q' an input pixel, k = (c or o, r, s)
// a filter tap, X~ the im2col view of x and dY~ the col2im view of dy.
// Backward weights reduces over the long n*oh*ow axis by split-K: each slice
// writes its own partial dW and a second kernel adds the slices in a fixed
// order (no atomics, so the result does not depend on scheduling).
#include "cuda/gemm_tile.cuh"
#include "cuda/kernels.h"

#include <algorithm>

namespace dlcore {
namespace cuda {
namespace {

using tile::kBK;
using tile::kBM;
using tile::kBN;
using tile::kThreads;

// ConvShape plus the products every loader needs.
struct Geometry {
  ConvShape s;
  int cg, og, khw, ohw, hw;
  __host__ __device__ explicit Geometry(const ConvShape& shape)
      : s(shape),
        cg(shape.c / shape.groups),
        og(shape.o / shape.groups),
        khw(shape.kh * shape.kw),
        ohw(shape.oh * shape.ow),
        hw(shape.h * shape.w) {}
};

// ---- forward -------------------------------------------------------------------------
// B operand X~[k = (c, r, s), q = (img, oy, ox)] = x[img, g cg + c, oy sh - pt + r dh, ox sw - pl + s dw].
// Threads own 4 consecutive q (decoded once) and one k per step.
struct Im2colLoader : tile::TileRegs<false> {
  const float* x;
  const Geometry& geo;
  int base[4];  // offset of x[img, g cg, 0, 0], or -1 past the last pixel (x has < 2^31 elements)
  int iy0[4], ix0[4];

  __device__ Im2colLoader(const float* x_, const Geometry& geo_, int g, int n0) : x(x_), geo(geo_) {
    const int total = geo.s.n * geo.ohw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int q = n0 + my_mn() + i;
      const int img = q / geo.ohw, p = q % geo.ohw;
      base[i] = q < total ? (img * geo.s.c + g * geo.cg) * geo.hw : -1;
      iy0[i] = (p / geo.s.ow) * geo.s.sh - geo.s.pt;
      ix0[i] = (p % geo.s.ow) * geo.s.sw - geo.s.pl;
    }
  }

  __device__ void fetch(int k0) {
    const int k = k0 + my_k();
    const bool k_ok = k < geo.cg * geo.khw;
    const int c = k / geo.khw, rs = k % geo.khw;
    const int dy = (rs / geo.s.kw) * geo.s.dh, dx = (rs % geo.s.kw) * geo.s.dw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int ih = iy0[i] + dy, iw = ix0[i] + dx;
      const bool ok = k_ok && base[i] >= 0 && ih >= 0 && ih < geo.s.h && iw >= 0 && iw < geo.s.w;
      r[i] = ok ? __ldg(x + base[i] + c * geo.hw + ih * geo.s.w + iw) : 0.0f;
    }
  }
};

// y[img, g og + o, oy, ox] = acc + bias
struct ForwardEpilogue {
  float* y;
  const float* bias;
  const Geometry& geo;
  int g;
  __device__ void store4(int o, int q, float4 v) const {
    if (o >= geo.og) return;
    const int oc = g * geo.og + o, total = geo.s.n * geo.ohw;
    const float b = bias ? __ldg(bias + oc) : 0.0f;
    const float vals[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int qq = q + e;
      if (qq < total) y[(int64_t(qq / geo.ohw) * geo.s.o + oc) * geo.ohw + qq % geo.ohw] = vals[e] + b;
    }
  }
};

__global__ void __launch_bounds__(kThreads, 2)
    conv_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                        float* __restrict__ y, ConvShape shape, bool vec_w) {
  const Geometry geo(shape);
  const int g = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int k_total = geo.cg * geo.khw;
  // A = this group's weights, a dense (og x cg kh kw) row-major matrix.
  tile::MatrixLoader<true> la(w + int64_t(g) * geo.og * k_total, k_total, geo.og, k_total, m0, vec_w);
  Im2colLoader lb(x, geo, g, n0);
  ForwardEpilogue ep{y, bias, geo, g};
  tile::block_gemm(la, lb, 0, k_total, m0, n0, ep);
}

// ---- backward data ---------------------------------------------------------------------
// A operand W~[c, k = (o, r, s)] = w[g og + o, c, r, s]; contiguous along (r, s).
struct WeightTLoader : tile::TileRegs<true> {
  const float* w;
  const Geometry& geo;
  int c;
  int64_t group_base;

  __device__ WeightTLoader(const float* w_, const Geometry& geo_, int g, int m0)
      : w(w_), geo(geo_), c(m0 + my_mn()), group_base(int64_t(g) * geo_.og * geo_.cg * geo_.khw) {}

  __device__ void fetch(int k0) {
    const int k_total = geo.og * geo.khw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int k = k0 + my_k() + i, o = k / geo.khw, rs = k % geo.khw;
      const bool ok = c < geo.cg && k < k_total;
      r[i] = ok ? __ldg(w + group_base + (int64_t(o) * geo.cg + c) * geo.khw + rs) : 0.0f;
    }
  }
};

// B operand dY~[k = (o, r, s), q' = (img, ih, iw)] = dy[img, g og + o, oy, ox] where
// ih + pt - r dh = oy sh and iw + pl - s dw = ox sw (zero when not on the stride grid).
struct Col2imLoader : tile::TileRegs<false> {
  const float* dy;
  const Geometry& geo;
  int base[4];         // offset of dy[img, g og, 0, 0], or -1 past the last pixel (dy has < 2^31 elements)
  int ihp[4], iwp[4];  // input coordinates plus padding

  __device__ Col2imLoader(const float* dy_, const Geometry& geo_, int g, int n0) : dy(dy_), geo(geo_) {
    const int total = geo.s.n * geo.hw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int q = n0 + my_mn() + i;
      const int img = q / geo.hw, p = q % geo.hw;
      base[i] = q < total ? (img * geo.s.o + g * geo.og) * geo.ohw : -1;
      ihp[i] = p / geo.s.w + geo.s.pt;
      iwp[i] = p % geo.s.w + geo.s.pl;
    }
  }

  __device__ void fetch(int k0) {
    const int k = k0 + my_k();
    const bool k_ok = k < geo.og * geo.khw;
    const int o = k / geo.khw, rs = k % geo.khw;
    const int ry = (rs / geo.s.kw) * geo.s.dh, rx = (rs % geo.s.kw) * geo.s.dw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int ty = ihp[i] - ry, tx = iwp[i] - rx;
      const int oy = ty / geo.s.sh, ox = tx / geo.s.sw;
      const bool ok = k_ok && base[i] >= 0 && ty >= 0 && tx >= 0 && oy * geo.s.sh == ty && ox * geo.s.sw == tx &&
                      oy < geo.s.oh && ox < geo.s.ow;
      r[i] = ok ? __ldg(dy + base[i] + o * geo.ohw + oy * geo.s.ow + ox) : 0.0f;
    }
  }
};

// dx[img, g cg + c, ih, iw] = acc (every element written exactly once)
struct BackwardDataEpilogue {
  float* dx;
  const Geometry& geo;
  int g;
  __device__ void store4(int c, int q, float4 v) const {
    if (c >= geo.cg) return;
    const int total = geo.s.n * geo.hw;
    const float vals[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int qq = q + e;
      if (qq < total) dx[(int64_t(qq / geo.hw) * geo.s.c + g * geo.cg + c) * geo.hw + qq % geo.hw] = vals[e];
    }
  }
};

__global__ void __launch_bounds__(kThreads, 2)
    conv_backward_data_kernel(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,
                              ConvShape shape) {
  const Geometry geo(shape);
  const int g = blockIdx.z, m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  WeightTLoader la(w, geo, g, m0);
  Col2imLoader lb(dy, geo, g, n0);
  BackwardDataEpilogue ep{dx, geo, g};
  tile::block_gemm(la, lb, 0, geo.og * geo.khw, m0, n0, ep);
}

// ---- backward weights -----------------------------------------------------------------
// A operand dY[o, q = (img, oy, ox)] = dy[img, g og + o, oy, ox]; contiguous along q inside
// an image, so 4 consecutive q are one 16-byte load when oh*ow % 4 == 0.
struct DyLoader : tile::TileRegs<true> {
  const float* dy;
  const Geometry& geo;
  int o;
  int64_t channel;  // g og + o
  bool vec;

  __device__ DyLoader(const float* dy_, const Geometry& geo_, int g, int m0, bool vec_)
      : dy(dy_), geo(geo_), o(m0 + my_mn()), channel(int64_t(g) * geo_.og + m0 + my_mn()), vec(vec_) {}

  __device__ void fetch(int k0) {
    const int q = k0 + my_k(), total = geo.s.n * geo.ohw;
    const bool row_ok = o < geo.og;
    if (vec && row_ok && q + 3 < total) {  // q % 4 == 0 and ohw % 4 == 0: one image, contiguous
      const float4 v = __ldg(
          reinterpret_cast<const float4*>(dy + (int64_t(q / geo.ohw) * geo.s.o + channel) * geo.ohw + q % geo.ohw));
      r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
      return;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int qq = q + i;
      r[i] = row_ok && qq < total ? __ldg(dy + (int64_t(qq / geo.ohw) * geo.s.o + channel) * geo.ohw + qq % geo.ohw)
                                  : 0.0f;
    }
  }
};

// B operand X~^T[col = (c, r, s), q] = x[img, g cg + c, oy sh - pt + r dh, ox sw - pl + s dw];
// the filter tap is fixed per thread (decoded once), q walks the reduction.
struct Im2colTLoader : tile::TileRegs<true> {
  const float* x;
  const Geometry& geo;
  int64_t channel_base;  // offset of x[0, g cg + c, 0, 0], or -1 past the last column
  int ry, rx;            // r dh - pt, s dw - pl

  __device__ Im2colTLoader(const float* x_, const Geometry& geo_, int g, int n0) : x(x_), geo(geo_) {
    const int col = n0 + my_mn();
    const int c = col / geo.khw, rs = col % geo.khw;
    channel_base = col < geo.cg * geo.khw ? (int64_t(g) * geo.cg + c) * geo.hw : -1;
    ry = (rs / geo.s.kw) * geo.s.dh - geo.s.pt;
    rx = (rs % geo.s.kw) * geo.s.dw - geo.s.pl;
  }

  __device__ void fetch(int k0) {
    const int total = geo.s.n * geo.ohw;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int q = k0 + my_k() + i;
      const int img = q / geo.ohw, p = q % geo.ohw;
      const int ih = (p / geo.s.ow) * geo.s.sh + ry, iw = (p % geo.s.ow) * geo.s.sw + rx;
      const bool ok = channel_base >= 0 && q < total && ih >= 0 && ih < geo.s.h && iw >= 0 && iw < geo.s.w;
      r[i] = ok ? __ldg(x + channel_base + int64_t(img) * geo.s.c * geo.hw + ih * geo.s.w + iw) : 0.0f;
    }
  }
};

// out[g og + o, col] = acc; out is dW itself or this K slice's partial.
struct BackwardWeightsEpilogue {
  float* out;
  const Geometry& geo;
  int g;
  __device__ void store4(int o, int col, float4 v) const {
    const int cols = geo.cg * geo.khw;
    if (o >= geo.og) return;
    float* row = out + int64_t(g * geo.og + o) * cols;
    const float vals[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (col + e < cols) row[col + e] = vals[e];
  }
};

__global__ void __launch_bounds__(kThreads, 2)
    conv_backward_weights_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ out,
                                 ConvShape shape, int slice, bool vec_dy) {
  const Geometry geo(shape);
  const int g = blockIdx.z % shape.groups, split = blockIdx.z / shape.groups;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
  const int k_total = shape.n * geo.ohw;
  const int k_begin = split * slice, k_end = min(k_total, k_begin + slice);
  DyLoader la(dy, geo, g, m0, vec_dy);
  Im2colTLoader lb(x, geo, g, n0);
  BackwardWeightsEpilogue ep{out + int64_t(split) * shape.o * geo.cg * geo.khw, geo, g};
  tile::block_gemm(la, lb, k_begin, k_end, m0, n0, ep);
}

// db[o] = sum over images and pixels of dy[img, o, :, :]; one block per channel.
__global__ void bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ db, int n, int o_total, int ohw) {
  __shared__ float scratch[kWarp];
  const int o = blockIdx.x;
  float s = 0.0f;
  for (int img = 0; img < n; ++img) {
    const float* plane = dy + (int64_t(img) * o_total + o) * ohw;
    for (int p = threadIdx.x; p < ohw; p += blockDim.x) s += plane[p];
  }
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) db[o] = s;
}

// Split-K plan for backward weights (see tile::plan_split_k): K = n * oh * ow
// is long, the output (O/g x C/g kh kw per group) often small.
tile::SplitPlan plan_backward_weights(const ConvShape& s) {
  const Geometry geo(s);
  const int64_t tiles = int64_t(ceil_div(geo.og, kBM)) * ceil_div(geo.cg * geo.khw, kBN) * s.groups;
  return tile::plan_split_k(tiles, s.n * geo.ohw, multiprocessor_count(), 65535 / s.groups);
}

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s,
                    cudaStream_t stream) {
  const Geometry geo(s);
  if (int64_t(s.n) * geo.ohw * s.o == 0) return;
  const dim3 grid(ceil_div(s.n * geo.ohw, kBN), ceil_div(geo.og, kBM), s.groups);
  check_grid(grid, "conv2d_forward");
  const bool vec_w = (geo.cg * geo.khw) % 4 == 0 && aligned16(w);
  conv_forward_kernel<<<grid, kThreads, 0, stream>>>(x, w, bias, y, s, vec_w);
  DLCORE_CUDA_CHECK_LAUNCH("conv_forward_kernel");
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s, cudaStream_t stream) {
  const Geometry geo(s);
  if (int64_t(s.n) * geo.hw * s.c == 0) return;
  const dim3 grid(ceil_div(s.n * geo.hw, kBN), ceil_div(geo.cg, kBM), s.groups);
  check_grid(grid, "conv2d_backward_data");
  conv_backward_data_kernel<<<grid, kThreads, 0, stream>>>(dy, w, dx, s);
  DLCORE_CUDA_CHECK_LAUNCH("conv_backward_data_kernel");
}

int64_t conv2d_backward_weights_workspace(const ConvShape& s) {
  const tile::SplitPlan plan = plan_backward_weights(s);
  return plan.slices > 1 ? int64_t(plan.slices) * s.o * (s.c / s.groups) * s.kh * s.kw : 0;
}

void conv2d_backward_weights(const float* x, const float* dy, float* dw, float* db, float* workspace,
                             const ConvShape& s, cudaStream_t stream) {
  const Geometry geo(s);
  const int64_t dw_count = int64_t(s.o) * geo.cg * geo.khw;
  if (dw_count > 0) {
    const tile::SplitPlan plan = plan_backward_weights(s);
    const dim3 grid(ceil_div(geo.cg * geo.khw, kBN), ceil_div(geo.og, kBM), s.groups * plan.slices);
    check_grid(grid, "conv2d_backward_weights");
    const bool vec_dy = geo.ohw % 4 == 0 && aligned16(dy);
    float* out = plan.slices > 1 ? workspace : dw;
    conv_backward_weights_kernel<<<grid, kThreads, 0, stream>>>(x, dy, out, s, plan.slice, vec_dy);
    DLCORE_CUDA_CHECK_LAUNCH("conv_backward_weights_kernel");
    if (plan.slices > 1) sum_slices(workspace, dw, dw_count, plan.slices, 1.0f, 0.0f, stream);
  }
  if (db && s.o > 0) {
    bias_grad_kernel<<<unsigned(s.o), 256, 0, stream>>>(dy, db, s.n, s.o, geo.ohw);
    DLCORE_CUDA_CHECK_LAUNCH("bias_grad_kernel");
  }
}

}  // namespace cuda
}  // namespace dlcore
