// Depthwise convolution (one input channel per group, a few outputs per
// group: MobileNet's 3x3 layers), forward, backward-data, backward-weights,
// on NCHW directly. Included at the end of conv_kernels.h, whose helpers it
// uses (templates over V, instantiated with the other direct kernels).
//
// Why not the channel-blocked path: with one input channel per group it
// spends a whole W-lane block on each output channel (1 lane of 8 useful on
// AVX2); measured 0.7-2.1 GFLOP/s, 0.11-0.50x oneDNN. Here the vectors run
// along the output row instead. Each (image, group) plane is first copied
// into a zero-padded "phase" buffer: padded row r, phase q < stride_w, holds
// the padded columns q, q + sw, q + 2 sw, ..., so that output columns
// ow .. ow + W - 1 at kernel column kw read W consecutive floats of phase
// (kw dw) % sw from index ow + (kw dw) / sw, for every stride and dilation.
// Rows carry W floats of zero slack so a row's last vector never leaves it.
// Each plane belongs to one thread (backward-weights: each group), and every
// sum runs in a fixed order, so results do not depend on the thread count.
#pragma once
#include <omp.h>

#include <algorithm>
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

template <class V>
void depthwise_forward(const ConvForwardArgs& a) {
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
