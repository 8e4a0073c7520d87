// Depthwise convolution (one input channel per group, a few outputs per
// group: MobileNet's 3x3 layers), forward, backward-data, backward-weights.
// Included at the end of conv_kernels.h, whose helpers it uses (templates
// over V, instantiated with the other direct kernels). Two layouts:
//
// One output per group (MobileNet, EfficientNet): W groups side by side in
// the W lanes of a vector (below, "channel-blocked"). Why not the general
// channel-blocked kernels: they put one group's channels in the lanes, so
// with one input channel per group they spend a W-lane block on each output
// channel (1 lane of 8 useful on AVX2; measured 0.7-2.1 GFLOP/s, 0.11-0.50x
// oneDNN).
//
// Two to four outputs per group: NCHW, the vectors along the output row.
// Each (image, group) plane is first copied into a zero-padded "phase"
// buffer: padded row r, phase q < stride_w, holds the padded columns q,
// q + sw, q + 2 sw, ..., so that output columns ow .. ow + W - 1 at kernel
// column kw read W consecutive floats of phase (kw dw) % sw from index
// ow + (kw dw) / sw, for every stride and dilation. Rows carry W floats of
// zero slack so a row's last vector never leaves it.
//
// Either way each output element belongs to one thread (backward-weights:
// each group or block of groups), and every sum runs in a fixed order, so
// results do not depend on the thread count.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "ops/conv/conv_kernels.h"

namespace dlcore {
namespace {

struct PhasePlane {
  int64_t ihp, sw, len;  // padded rows, phases per row, floats per phase row (with slack)
  int64_t floats() const { return ihp * sw * len; }
  int64_t row_floats() const { return sw * len; }  // one whole padded row (build_phases' staging)
  int64_t row(int64_t r, int64_t q) const { return (r * sw + q) * len; }
};

template <class V>
PhasePlane phase_plane(const ConvShape& s) {
  const int64_t iwp = s.iw + s.pl + s.pr;
  return {s.ih + s.pt + s.pb, s.sw, ceil_div(iwp, s.sw) + V::width};
}

// P = the zero-padded plane x (ih x iw), split into column phases. Each
// padded row is laid out whole in `row` (sw * len floats: zeros, x's row,
// zeros), then dealt out to the phases; the stride-2 deal is a plain loop
// the compiler vectorizes (a strided gather per phase ran at ~1 ns a float).
inline void build_phases(const float* x, const ConvShape& s, const PhasePlane& pp, float* p, float* row) {
  const int64_t width = pp.sw * pp.len;
  for (int64_t r = 0; r < pp.ihp; ++r) {
    const int64_t src = r - s.pt;
    if (src < 0 || src >= s.ih) {
      std::fill(p + pp.row(r, 0), p + pp.row(r, 0) + width, 0.0f);
      continue;
    }
    std::fill(row, row + s.pl, 0.0f);
    std::copy(x + src * s.iw, x + (src + 1) * s.iw, row + s.pl);
    std::fill(row + s.pl + s.iw, row + width, 0.0f);
    if (pp.sw == 1) {
      std::copy(row, row + width, p + pp.row(r, 0));
    } else if (pp.sw == 2) {
      float* __restrict even = p + pp.row(r, 0);
      float* __restrict odd = p + pp.row(r, 1);
      for (int64_t j = 0; j < pp.len; ++j) {
        even[j] = row[2 * j];
        odd[j] = row[2 * j + 1];
      }
    } else {
      for (int64_t q = 0; q < pp.sw; ++q) {
        float* dst = p + pp.row(r, q);
        for (int64_t j = 0; j < pp.len; ++j) dst[j] = row[q + j * pp.sw];
      }
    }
  }
}

// dx (ih x iw) = the interior of the phase plane D.
inline void gather_phases(const float* d, const ConvShape& s, const PhasePlane& pp, float* dx) {
  for (int64_t h = 0; h < s.ih; ++h) {
    for (int64_t q = 0; q < pp.sw; ++q) {
      const float* src = d + pp.row(h + s.pt, q);
      const int64_t lo = imax(0, ceil_div(s.pl - q, pp.sw)), hi = ceil_div(s.iw + s.pl - q, pp.sw);
      float* out = dx + h * s.iw + q - s.pl;  // column of src[j]: j sw
      for (int64_t j = lo; j < hi; ++j) out[j * pp.sw] = src[j];
    }
  }
}

// Where each tap (kh, kw) reads, relative to output row 0, column 0 (taps in
// kh, kw order); output row oh adds oh * row_step. Computed once per call:
// the divisions by the stride stay out of the loops.
struct TapOffsets {
  std::vector<int64_t> at;
  int64_t row_step;
  TapOffsets(const ConvShape& s, const PhasePlane& pp) : row_step(s.sh * pp.sw * pp.len) {
    for (int64_t kh = 0; kh < s.kh; ++kh) {
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t off = kw * s.dw;
        at.push_back(pp.row(kh * s.dh, off % s.sw) + off / s.sw);
      }
    }
  }
};

// N vectors of one output row from column ow0: y = bias + sum over taps of
// w[tap] * P[tap offset + column]; the last of them may be partial (`live`).
template <class V, int N>
DLCORE_INLINE void depthwise_vectors(const float* row, const float* w, float bias, const TapOffsets& taps, int64_t ow0,
                                     int live, bool relu, float* y) {
  constexpr int W = V::width;
  typename V::reg acc[N];
  for (int v = 0; v < N; ++v) acc[v] = V::set1(bias);
  const int64_t count = int64_t(taps.at.size());
  for (int64_t t = 0; t < count; ++t) {
    const auto wv = V::set1(w[t]);
    const float* src = row + taps.at[size_t(t)] + ow0;
    for (int v = 0; v < N; ++v) acc[v] = V::fmadd(wv, V::load(src + v * W), acc[v]);
  }
  if (relu)  // the fused ReLU (core/epilogue.h), on the registers
    for (int v = 0; v < N; ++v) acc[v] = relu_vec<V>(acc[v]);
  for (int v = 0; v < N - 1; ++v) V::store(y + ow0 + v * W, acc[v]);
  simd::store_first<V>(y + ow0 + (N - 1) * W, acc[N - 1], live);
}

// One output row: four vectors at a time (independent FMA chains), then one
// at a time, the last one partial. A vector reads at most W - 1 floats past
// the row's last column, inside the phase row's slack.
template <class V>
void depthwise_row(const float* row, const float* w, float bias, const TapOffsets& taps, int64_t ow, bool relu,
                   float* y) {
  constexpr int W = V::width, kGroup = 4;
  int64_t ow0 = 0;
  for (; ow0 + kGroup * W <= ow; ow0 += kGroup * W) depthwise_vectors<V, kGroup>(row, w, bias, taps, ow0, W, relu, y);
  for (; ow0 < ow; ow0 += W) depthwise_vectors<V, 1>(row, w, bias, taps, ow0, int(imin(W, ow - ow0)), relu, y);
}

// Planes handed to the threads: (image, group), each thread with its own
// phase buffer (a slice of calling-thread scratch, so the tests can poison it).
template <class Body>
void for_each_plane(const ConvShape& s, int64_t plane_floats, int64_t planes, Body&& body) {
  // An empty batch has no (image, group) planes: nothing to do (and planes /
  // (16 * nt) below would divide by zero).
  if (planes <= 0) return;
  // Few flops per byte: a second thread pays off for its memory traffic too.
  const int64_t floats = s.n * (s.ic * s.ih * s.iw + s.oc * s.oh * s.ow);
  const int nt = int(imax(1, imin(imax(threads_for_flops(conv_flops(s)), threads_for_floats(floats)), planes)));
  float* scratch = conv_scratch(0, size_t(nt * plane_floats));
  // Dynamic for a shared machine, in chunks of about 1/16 of a thread's
  // share: small planes (7x7) are too quick to claim one at a time.
  const int64_t chunk = imax(1, planes / (16 * int64_t(nt)));
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt)
  for (int64_t i = 0; i < planes; ++i) body(i, scratch + omp_get_thread_num() * plane_floats);
}

// ---------------------------------------------------------------------------
// Channel-blocked, one output per group: W groups in the W lanes, one
// image's block of them laid out [rows][columns][W] with its padding
// materialised (oneDNN's nChw8c idea), built per (image, block) in L1/L2
// through 8 x 8 register transposes. A tap is one weight vector times one
// input vector, every lane a group, no broadcasts. The NCHW planes run a
// 7-column row as one partial vector (a single dependent FMA chain) and copy
// a phase plane per (image, group) for a few hundred FMAs. 2 threads,
// Zen 1 (AVX2), MobileNet v1's nine 3x3 depthwise shapes at minibatch 2, ms
// NCHW planes -> channel-blocked (oneDNN end to end), alternating in one
// process: forward 1024 x 7x7 0.75 -> 0.17 (0.21), 512 x 14x14 0.69 -> 0.26
// (0.64), 32 x 112x112 0.97 -> 0.71 (4.5); backward data 1024 x 7x7 0.98 ->
// 0.19 (0.23), 256 x 28x28 1.52 -> 0.39 (0.52); backward weights 1024 x 7x7
// 1.57 -> 0.18 (0.22), 32 x 112x112 1.19 -> 0.85 (3.8). Faster on all 27
// (shape, pass) pairs, so every one-output-per-group layer runs here. The
// stride-2 backward data (gather_groups) in a later run against oneDNN:
// 64 x 112x112 0.95 (2.1), 128 x 56x56 0.30 (0.81), 512 x 14x14 0.12 (0.24).
// ---------------------------------------------------------------------------

inline bool use_blocked_depthwise(const ConvShape& s) { return s.ocg() == 1; }

// One image's W-group block: [rows][cols][W] floats; the plane sits at (top, left).
struct GroupBlock {
  int64_t rows, cols, top, left;
  int64_t floats(int width) const { return rows * cols * width; }
};
// The forward input's block: x with its padding.
inline GroupBlock padded_input(const ConvShape& s) { return {s.ih + s.pt + s.pb, s.iw + s.pl + s.pr, s.pt, s.pl}; }

// dst[p][c] = src[c * plane + p] for the first `live` lanes, zeros after.
template <int W>
void to_lanes(const float* src, int64_t live, int64_t plane, float* dst) {
  if (live == W) return channels_to_lanes<W>(src, plane, plane, dst);
  for (int64_t p = 0; p < plane; ++p)
    for (int c = 0; c < W; ++c) dst[p * W + c] = c < live ? src[c * plane + p] : 0.0f;
}

// dst (a GroupBlock) <- the h x w planes of `live` channels (h * w floats
// apart) from src, through `flat` ([h * w][W], scratch); zeros in the padding
// and in the lanes >= live. Whole vectors throughout: a block row is a few
// hundred bytes, and calls to memset / memmove per row and side cost as much
// as the transposes (7x7 planes, Zen 1).
template <class V>
void pack_groups(const float* src, int64_t live, int64_t h, int64_t w, const GroupBlock& b, float* flat, float* dst) {
  constexpr int W = V::width;
  to_lanes<W>(src, live, h * w, flat);
  const auto zero = V::zero();
  auto zeros = [&](float* from, int64_t pixels) {
    for (int64_t p = 0; p < pixels; ++p) V::store(from + p * W, zero);
  };
  zeros(dst, b.top * b.cols);
  for (int64_t y = 0; y < h; ++y) {
    float* row = dst + (b.top + y) * b.cols * W;
    zeros(row, b.left);
    const float* in = flat + y * w * W;
    for (int64_t x = 0; x < w; ++x) V::store(row + (b.left + x) * W, V::load(in + x * W));
    zeros(row + (b.left + w) * W, b.cols - b.left - w);
  }
  zeros(dst + (b.top + h) * b.cols * W, (b.rows - b.top - h) * b.cols);
}

// Where each tap (kh, kw) reads in a GroupBlock of `cols` columns, relative
// to output pixel (0, 0), and the steps to the next output row and column.
struct GroupTaps {
  std::vector<int64_t> at;
  int64_t row_step, col_step;
  GroupTaps(const ConvShape& s, int64_t cols, int width) : row_step(s.sh * cols * width), col_step(s.sw * width) {
    for (int64_t kh = 0; kh < s.kh; ++kh)
      for (int64_t kw = 0; kw < s.kw; ++kw) at.push_back((kh * s.dh * cols + kw * s.dw) * width);
  }
};

// f(std::integral_constant<int, N>{}) for N = n in [1, Most].
template <int Most, class F>
DLCORE_INLINE void with_count(int64_t n, F&& f) {
  if (n == Most) return f(std::integral_constant<int, Most>{});
  if constexpr (Most > 1) with_count<Most - 1>(n, f);
}

// R output columns of one row: bias + sum over taps of w[tap] * in at the tap
// (R independent FMA chains), stored as R vectors. Columns SW * W floats
// apart; SW = 0: taps.col_step apart. A compile-time step lets every load
// take a constant displacement from the tap's address: with a runtime step
// the compiler spent a register per column and spilled (Zen 1, R = 7).
template <class V, int R, int SW>
DLCORE_INLINE void group_columns(const float* in, const float* w, const GroupTaps& taps, typename V::reg bias,
                                 bool relu, float* out) {
  constexpr int W = V::width;
  const int64_t step = SW > 0 ? SW * W : taps.col_step;
  typename V::reg acc[R];
  for (int r = 0; r < R; ++r) acc[r] = bias;
  const int64_t count = int64_t(taps.at.size());
  for (int64_t t = 0; t < count; ++t) {
    const auto wv = V::load(w + t * W);
    const float* src = in + taps.at[size_t(t)];
    for (int r = 0; r < R; ++r) acc[r] = V::fmadd(wv, V::load(src + r * step), acc[r]);
  }
  for (int r = 0; r < R; ++r) V::store(out + r * W, relu ? relu_vec<V>(acc[r]) : acc[r]);
}

// out [oh][ow][W] = the depthwise convolution of the block `in` by w [taps][W].
constexpr int kGroupColumns = 8;  // accumulators per row step: 8 of AVX2's 16 registers
template <class V, int SW>
void group_rows(const float* in, const float* w, const GroupTaps& taps, int64_t oh, int64_t ow, typename V::reg bias,
                bool relu, float* out) {
  constexpr int W = V::width;
  for (int64_t y = 0; y < oh; ++y) {
    const float* row = in + y * taps.row_step;
    float* o = out + y * ow * W;
    int64_t x = 0;
    for (; x + kGroupColumns <= ow; x += kGroupColumns)
      group_columns<V, kGroupColumns, SW>(row + x * taps.col_step, w, taps, bias, relu, o + x * W);
    with_count<kGroupColumns - 1>(ow - x, [&](auto r) {
      group_columns<V, decltype(r)::value, SW>(row + x * taps.col_step, w, taps, bias, relu, o + x * W);
    });
  }
}
template <class V>
void group_plane(const float* in, const float* w, const GroupTaps& taps, int64_t oh, int64_t ow, typename V::reg bias,
                 bool relu, float* out) {
  if (taps.col_step == V::width) return group_rows<V, 1>(in, w, taps, oh, ow, bias, relu, out);
  if (taps.col_step == 2 * V::width) return group_rows<V, 2>(in, w, taps, oh, ow, bias, relu, out);
  group_rows<V, 0>(in, w, taps, oh, ow, bias, relu, out);
}

// w [taps][W] for groups g0 .. g0 + live of OIHW weights (one per group),
// zero in the dead lanes; `flip`: taps in reverse order (backward data).
template <int W>
void group_weights(const float* w, int64_t g0, int64_t live, int64_t taps, bool flip, float* out) {
  for (int64_t t = 0; t < taps; ++t)
    for (int c = 0; c < W; ++c) out[t * W + c] = c < live ? w[(g0 + c) * taps + (flip ? taps - 1 - t : t)] : 0.0f;
}

// Backward data at any stride, gathering: dx pixel (i, j) sums w[kh][kw] *
// dy[(i + pt - kh dh) / sh][(j + pl - kw dw) / sw] over the taps whose
// offsets the strides divide. Along one phase q of a dx row (columns q,
// q + sw, q + 2 sw, ...) the same taps read consecutive dy columns, so a
// phase is a sweep like the forward's: R accumulators, per tap one weight
// vector and R dy vectors. (Scattering each dy vector into a padded dx block
// tap by tap, a load and a store per FMA, ran 0.76-0.90x oneDNN at stride 2.)
// The tap lists are the same for every (image, block of groups): built once
// per call, per (dx row, phase), as {dy offset, weight offset} in floats from
// the dy block and the weight block.
struct GatherPhases {
  int64_t left = 0, right = 0;  // dy columns the phases read outside [0, ow)
  int64_t cols = 0;             // the dy block's width: left + ow + right
  std::vector<int64_t> first;   // (row i, phase q) -> its taps: [first[i sw + q], first[i sw + q + 1])
  std::vector<std::array<int64_t, 2>> taps;
  GatherPhases(const ConvShape& s, int width) {
    std::vector<std::vector<std::array<int64_t, 2>>> columns(size_t(s.sw));  // per phase: {kw, dy column of its 0}
    for (int64_t q = 0; q < imin(s.sw, s.iw); ++q) {
      const int64_t last = (s.iw - 1 - q) / s.sw;  // the phase's last column
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t off = q + s.pl - kw * s.dw;
        if (off % s.sw != 0) continue;
        const int64_t col = off / s.sw;
        columns[size_t(q)].push_back({kw, col});
        left = imax(left, -col);
        right = imax(right, last + col - (s.ow - 1));
      }
    }
    cols = left + s.ow + right;
    first.push_back(0);
    for (int64_t i = 0; i < s.ih; ++i)
      for (int64_t q = 0; q < s.sw; ++q) {
        for (int64_t kh = 0; kh < s.kh; ++kh) {  // the taps in (kh, kw) order
          const int64_t off = i + s.pt - kh * s.dh, r = off / s.sh;
          if (off % s.sh != 0 || off < 0 || r >= s.oh) continue;
          for (const auto& [kw, col] : columns[size_t(q)])
            taps.push_back({(r * cols + left + col) * width, (kh * s.kw + kw) * width});
        }
        first.push_back(int64_t(taps.size()));
      }
  }
};

// R phase columns from m: out[r * out_step] = sum over the taps of w at the
// tap times dy at the tap, m + r columns on.
template <class V, int R>
DLCORE_INLINE void gather_columns(const float* dy, const float* w, const std::array<int64_t, 2>* taps, int64_t count,
                                  int64_t m, int64_t out_step, float* out) {
  constexpr int W = V::width;
  typename V::reg acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V::zero();
  for (int64_t t = 0; t < count; ++t) {
    const auto wv = V::load(w + taps[t][1]);
    const float* p = dy + taps[t][0] + m * W;
    for (int r = 0; r < R; ++r) acc[r] = V::fmadd(wv, V::load(p + r * W), acc[r]);
  }
  for (int r = 0; r < R; ++r) V::store(out + r * out_step, acc[r]);
}

// dx [ih][iw][W] from the dy block (oh rows of gp.cols, dy column 0 at
// gp.left) and w [taps][W].
template <class V>
void gather_groups(const float* dy, const float* w, const ConvShape& s, const GatherPhases& gp, float* dx) {
  constexpr int W = V::width;
  const int64_t step = s.sw * W;
  for (int64_t i = 0; i < s.ih; ++i) {
    for (int64_t q = 0; q < imin(s.sw, s.iw); ++q) {
      const size_t k = size_t(i * s.sw + q);
      const std::array<int64_t, 2>* taps = gp.taps.data() + gp.first[k];
      const int64_t count = gp.first[k + 1] - gp.first[k], columns = ceil_div(s.iw - q, s.sw);
      float* out = dx + (i * s.iw + q) * W;
      int64_t m = 0;
      for (; m + kGroupColumns <= columns; m += kGroupColumns)
        gather_columns<V, kGroupColumns>(dy, w, taps, count, m, step, out + m * step);
      with_count<kGroupColumns - 1>(columns - m, [&](auto r) {
        gather_columns<V, decltype(r)::value>(dy, w, taps, count, m, step, out + m * step);
      });
    }
  }
}

// sums[kw] += sum over output pixels of dy * x at tap (kh, kw) for the KW
// taps of one kernel row (x: the block at that row, `tap_step`: floats
// between its taps). One accumulator per tap, the pixels in order.
constexpr int kMaxRowTaps = 8;
template <class V, int KW>
void weight_row_sums(const float* x, const float* dy, const GroupTaps& taps, int64_t oh, int64_t ow, int64_t tap_step,
                     float* sums) {
  constexpr int W = V::width;
  typename V::reg acc[KW];
  for (int k = 0; k < KW; ++k) acc[k] = V::load(sums + k * W);
  for (int64_t y = 0; y < oh; ++y) {
    const float* row = x + y * taps.row_step;
    const float* g = dy + y * ow * W;
    for (int64_t c = 0; c < ow; ++c) {
      const auto d = V::load(g + c * W);
      const float* px = row + c * taps.col_step;
      for (int k = 0; k < KW; ++k) acc[k] = V::fmadd(d, V::load(px + k * tap_step), acc[k]);
    }
  }
  for (int k = 0; k < KW; ++k) V::store(sums + k * W, acc[k]);
}

// Items (image, block of W groups) over the threads, each with `floats` of
// scratch: the weights of its block first, then whatever the pass needs.
template <class V, class Body>
void for_each_group_block(const ConvShape& s, int64_t images, int64_t floats, Body&& body) {
  constexpr int W = V::width;
  const int64_t blocks = ceil_div(s.groups, W);
  for_each_plane(s, floats, images * blocks, [&](int64_t i, float* scratch) {
    const int64_t n = i / blocks, g0 = i % blocks * W;
    body(n, g0, imin(W, s.groups - g0), scratch);
  });
}

template <class V>
void depthwise_blocked_forward(const ConvForwardArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const GroupBlock in = padded_input(s);
  const GroupTaps taps(s, in.cols, W);
  const int64_t ntaps = s.kh * s.kw, w_floats = ntaps * W + W;  // the weights, then the bias
  const int64_t plane = s.ih * s.iw, out_plane = s.oh * s.ow;
  for_each_group_block<V>(s, s.n, w_floats + in.floats(W) + imax(plane, out_plane) * W,
                          [&](int64_t n, int64_t g0, int64_t live, float* scratch) {
                            float* w = scratch;
                            float* bias = w + ntaps * W;
                            float* x = bias + W;
                            float* y = x + in.floats(W);  // also the flat input on its way into x
                            group_weights<W>(a.w, g0, live, ntaps, false, w);
                            for (int c = 0; c < W; ++c) bias[c] = a.bias && c < live ? a.bias[g0 + c] : 0.0f;
                            pack_groups<V>(a.x + (n * s.ic + g0) * plane, live, s.ih, s.iw, in, y, x);
                            group_plane<V>(x, w, taps, s.oh, s.ow, V::load(bias), a.relu, y);
                            lanes_to_channels<W>(y, out_plane, live, out_plane, a.y + (n * s.oc + g0) * out_plane);
                          });
}

// Backward data, stride 1: the forward kernel over dy padded by the dilated
// kernel extent minus the forward padding, weights in reverse tap order.
// Otherwise (strided, or padding beyond the kernel's reach) gather_groups.
template <class V>
void depthwise_blocked_backward_data(const ConvBackwardDataArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const int64_t ntaps = s.kh * s.kw, plane = s.ih * s.iw, out_plane = s.oh * s.ow;
  const bool as_forward = backward_data_as_forward(s);
  const int64_t eh = s.dh * (s.kh - 1), ew = s.dw * (s.kw - 1);
  const GatherPhases phases(s, W);
  const GroupBlock blk =
      as_forward ? GroupBlock{s.oh + 2 * eh - s.pt - s.pb, s.ow + 2 * ew - s.pl - s.pr, eh - s.pt, ew - s.pl}
                 : GroupBlock{s.oh, phases.cols, 0, phases.left};
  const GroupTaps taps(s, blk.cols, W);
  for_each_group_block<V>(s, s.n, ntaps * W + blk.floats(W) + imax(plane, out_plane) * W,
                          [&](int64_t n, int64_t g0, int64_t live, float* scratch) {
                            float* w = scratch;
                            float* b = w + ntaps * W;
                            float* flat = b + blk.floats(W);  // dy on its way in, dx on its way out
                            group_weights<W>(a.w, g0, live, ntaps, as_forward, w);
                            pack_groups<V>(a.dy + (n * s.oc + g0) * out_plane, live, s.oh, s.ow, blk, flat, b);
                            if (as_forward) {
                              group_plane<V>(b, w, taps, s.ih, s.iw, V::zero(), false, flat);
                            } else {
                              gather_groups<V>(b, w, s, phases, flat);
                            }
                            lanes_to_channels<W>(flat, plane, live, plane, a.dx + (n * s.ic + g0) * plane);
                          });
}

// dw[g][tap] = sum over images, rows and columns of dy * x at the tap, one
// thread per block of W groups, images in order; a kernel row's taps at a
// time, each tap one accumulator over the whole plane (the FMAs of a pixel
// share its dy vector). db from the same dy blocks.
template <class V>
void depthwise_blocked_backward_weights(const ConvBackwardWeightsArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const GroupBlock in = padded_input(s);
  const GroupTaps taps(s, in.cols, W);
  const int64_t ntaps = s.kh * s.kw, plane = s.ih * s.iw, out_plane = s.oh * s.ow;
  const int64_t flat_floats = imax(plane, out_plane) * W;
  for_each_group_block<V>(
      s, 1, (ntaps + 1) * W + in.floats(W) + flat_floats + out_plane * W,
      [&](int64_t, int64_t g0, int64_t live, float* scratch) {
        float* sums = scratch;  // [taps][W], then the bias's W
        float* x = sums + (ntaps + 1) * W;
        float* flat = x + in.floats(W);
        float* dy = flat + flat_floats;
        std::fill(sums, x, 0.0f);
        for (int64_t n = 0; n < s.n; ++n) {
          pack_groups<V>(a.x + (n * s.ic + g0) * plane, live, s.ih, s.iw, in, flat, x);
          to_lanes<W>(a.dy + (n * s.oc + g0) * out_plane, live, out_plane, dy);
          for (int64_t kh = 0; kh < s.kh; ++kh)
            for (int64_t k0 = 0; k0 < s.kw; k0 += kMaxRowTaps)  // up to kMaxRowTaps taps of the row at once
              with_count<kMaxRowTaps>(imin(kMaxRowTaps, s.kw - k0), [&](auto kw) {
                weight_row_sums<V, decltype(kw)::value>(x + (kh * s.dh * in.cols + k0 * s.dw) * W, dy, taps, s.oh, s.ow,
                                                        s.dw * W, sums + (kh * s.kw + k0) * W);
              });
          auto bsum = V::load(sums + ntaps * W);
          for (int64_t p = 0; p < out_plane; ++p) bsum = V::add(bsum, V::load(dy + p * W));
          V::store(sums + ntaps * W, bsum);
        }
        for (int64_t c = 0; c < live; ++c) {
          for (int64_t t = 0; t < ntaps; ++t) a.dw[(g0 + c) * ntaps + t] = sums[t * W + c];
          if (a.db) a.db[g0 + c] = sums[ntaps * W + c];
        }
      });
}

template <class V>
void depthwise_forward(const ConvForwardArgs& a) {
  if (use_blocked_depthwise(a.s)) return depthwise_blocked_forward<V>(a);
  const ConvShape& s = a.s;
  const PhasePlane pp = phase_plane<V>(s);
  const TapOffsets offsets(s, pp);
  const int64_t m = s.ocg(), taps = s.kh * s.kw;
  for_each_plane(s, pp.floats() + pp.row_floats(), s.n * s.groups, [&](int64_t i, float* p) {
    const int64_t n = i / s.groups, g = i % s.groups;
    build_phases(a.x + (n * s.ic + g) * s.ih * s.iw, s, pp, p, p + pp.floats());
    for (int64_t j = 0; j < m; ++j) {
      const int64_t o = g * m + j;
      float* y = a.y + (n * s.oc + o) * s.oh * s.ow;
      const float bias = a.bias ? a.bias[o] : 0.0f;
      for (int64_t oh = 0; oh < s.oh; ++oh)
        depthwise_row<V>(p + oh * offsets.row_step, a.w + o * taps, bias, offsets, s.ow, a.relu, y + oh * s.ow);
    }
  });
}

// dx: each dy row scattered into the zeroed phase plane D, tap by tap (whole
// vectors; the row's last columns one by one, so that nothing lands outside
// the positions the row reaches), then D's interior copied out.
template <class V>
void depthwise_backward_data(const ConvBackwardDataArgs& a) {
  if (use_blocked_depthwise(a.s)) return depthwise_blocked_backward_data<V>(a);
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const PhasePlane pp = phase_plane<V>(s);
  const TapOffsets offsets(s, pp);
  const int64_t m = s.ocg(), taps = s.kh * s.kw, full = s.ow / W * W;
  for_each_plane(s, pp.floats(), s.n * s.groups, [&](int64_t i, float* d) {
    const int64_t n = i / s.groups, g = i % s.groups;
    std::fill(d, d + pp.floats(), 0.0f);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t o = g * m + j;
      const float* w = a.w + o * taps;
      const float* dy = a.dy + (n * s.oc + o) * s.oh * s.ow;
      for (int64_t oh = 0; oh < s.oh; ++oh) {
        const float* dyr = dy + oh * s.ow;
        for (int64_t t = 0; t < taps; ++t) {
          const float wt = w[t];
          const auto wv = V::set1(wt);
          float* dst = d + oh * offsets.row_step + offsets.at[size_t(t)];
          for (int64_t ow = 0; ow < full; ow += W)
            V::store(dst + ow, V::fmadd(wv, V::load(dyr + ow), V::load(dst + ow)));
          // Scalar: a masked load + buffered store measured 25-45% slower on 7x7-14x14 planes (Zen 1).
          for (int64_t ow = full; ow < s.ow; ++ow) dst[ow] += wt * dyr[ow];
        }
      }
    }
    gather_phases(d, s, pp, a.dx + (n * s.ic + g) * s.ih * s.iw);
  });
}

// dw[o][tap] = sum over images, rows and columns of dy * P at the tap; one
// thread per group, images in order; W-lane partial sums per tap, reduced
// once at the end. A row's last, partial vector loads dy and P masked: dead
// lanes add 0 * 0, never 0 * (an x beyond the row's reach, which may be inf).
template <class V>
void depthwise_backward_weights(const ConvBackwardWeightsArgs& a) {
  if (use_blocked_depthwise(a.s)) return depthwise_blocked_backward_weights<V>(a);
  constexpr int W = V::width;
  using reg = typename V::reg;
  const ConvShape& s = a.s;
  const PhasePlane pp = phase_plane<V>(s);
  const TapOffsets offsets(s, pp);
  const int64_t m = s.ocg(), taps = s.kh * s.kw, full = s.ow / W * W, live = s.ow - full;
  // Per thread: the phase plane, its staging row, then W lanes per tap and output of the group (and the bias sums).
  const int64_t acc_floats = m * (taps + 1) * W;
  for_each_plane(s, pp.floats() + pp.row_floats() + acc_floats, s.groups, [&](int64_t g, float* p) {
    float* staging = p + pp.floats();
    float* lanes = staging + pp.row_floats();  // [m][taps + 1][W]: the last "tap" is the bias
    std::fill(lanes, lanes + acc_floats, 0.0f);
    for (int64_t n = 0; n < s.n; ++n) {
      build_phases(a.x + (n * s.ic + g) * s.ih * s.iw, s, pp, p, staging);
      for (int64_t j = 0; j < m; ++j) {
        const int64_t o = g * m + j;
        const float* dy = a.dy + (n * s.oc + o) * s.oh * s.ow;
        float* lane = lanes + j * (taps + 1) * W;
        for (int64_t oh = 0; oh < s.oh; ++oh) {
          const float* dyr = dy + oh * s.ow;
          const reg dy_tail = V::load_partial(dyr + full, int(live));
          for (int64_t t = 0; t < taps; ++t) {
            const float* src = p + oh * offsets.row_step + offsets.at[size_t(t)];
            reg acc = V::load(lane + t * W);
            for (int64_t ow = 0; ow < full; ow += W) acc = V::fmadd(V::load(dyr + ow), V::load(src + ow), acc);
            if (live > 0) acc = V::fmadd(dy_tail, V::load_partial(src + full, int(live)), acc);
            V::store(lane + t * W, acc);
          }
          reg bsum = V::load(lane + taps * W);
          for (int64_t ow = 0; ow < full; ow += W) bsum = V::add(bsum, V::load(dyr + ow));
          V::store(lane + taps * W, V::add(bsum, dy_tail));
        }
      }
    }
    for (int64_t j = 0; j < m; ++j) {
      const int64_t o = g * m + j;
      const float* lane = lanes + j * (taps + 1) * W;
      for (int64_t t = 0; t < taps; ++t) a.dw[o * taps + t] = V::reduce_add(V::load(lane + t * W));
      if (a.db) a.db[o] = V::reduce_add(V::load(lane + taps * W));
    }
  });
}

}  // namespace
}  // namespace dlcore
