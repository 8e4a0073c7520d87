// Pooling kernel bodies, templates over the vector type V (core/simd.h).
// pool.cpp instantiates them with simd::Scalar (the reference), the *_avx2 /
// *_avx512 files with their vector type. Anonymous namespace: see simd.h.
//
// Forward (one output row at a time): columns whose window lies entirely in
// the input ("interior") go `width` outputs per vector, each window element a
// strided load (stride sw); the last interior group overlaps the previous one
// instead of running a scalar remainder (it rewrites identical values); rows
// with fewer interior columns than a vector still take one group, keeping
// only the lanes they need (narrow_group_* below). Border
// columns (windows clipped by padding or too few interior columns) take the
// generic per-window path. Summation order is the same on every path
// (window rows top to bottom, columns left to right for max; per-row vector
// partial sums for the border average), so results do not depend on threads.
//
// Average backward is separable: dx = Rows^T (G Cols^T) where G = dy / divisor.
// A column pass spreads each output over its kw input columns into an
// (OH x W) scratch, then each input row sums the scratch rows of the outputs
// whose window covers it, contiguous vectors over W.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/simd.h"
#include "ops/pool/pool.h"
#include "ops/pool/pool_simd.h"

namespace dlcore {
namespace pool {
namespace {

// Window rows [hs, he) of output row oh, clipped to the input, and the
// divisor factors of average pooling for that row.
struct RowWindow {
  int64_t hs, he;
  int64_t count_with_pad;  // rows of the window inside [-ph, H + ph)
};

DLCORE_INLINE RowWindow row_window(const PoolGeom& g, int64_t oh) {
  int64_t start = oh * g.sh - g.ph;
  int64_t end_pad = std::min(start + g.kh, g.h + g.ph);
  return {std::max<int64_t>(start, 0), std::min(start + g.kh, g.h), end_pad - start};
}

struct ColWindow {
  int64_t ws, we, count_with_pad;
};

DLCORE_INLINE ColWindow col_window(const PoolGeom& g, int64_t ow) {
  int64_t start = ow * g.sw - g.pw;
  int64_t end_pad = std::min(start + g.kw, g.w + g.pw);
  return {std::max<int64_t>(start, 0), std::min(start + g.kw, g.w), end_pad - start};
}

// Output columns [lo, hi) whose window lies inside the input row.
DLCORE_INLINE void interior_columns(const PoolGeom& g, int64_t* lo, int64_t* hi) {
  int64_t first = (g.pw + g.sw - 1) / g.sw;                                    // ow*sw - pw >= 0
  int64_t last = g.w + g.pw - g.kw >= 0 ? (g.w + g.pw - g.kw) / g.sw + 1 : 0;  // ow*sw - pw + kw <= W
  *lo = std::min(first, g.ow);
  *hi = std::max(*lo, std::min(last, g.ow));
}

// Rows with fewer interior columns than a vector (small output width, e.g.
// AlexNet and VGG pool5, OW 6-7) still take one vector group starting at
// column lo, keeping its first hi - lo lanes. The surplus lanes read columns
// past the window (the rest of the row, then the next rows): allowed while
// those reads stay inside the input tensor, which this checks.
DLCORE_INLINE bool narrow_group_reads_inside(const PoolArgs& a, const float* plane, const RowWindow& r, int64_t lo,
                                             int width) {
  const PoolGeom& g = a.g;
  const int64_t last = (r.he - 1) * g.w + lo * g.sw - g.pw + g.kw - 1 + int64_t(width - 1) * g.sw;
  return plane + last < a.x + g.planes() * g.in_plane();
}

// The surplus lanes' outputs land in the next row's slots, which the same
// thread rewrites when it computes that row (rows run in increasing order);
// only on the last rows of the thread's range [.., end) must they not be
// stored (another thread's rows, or past the tensor).
DLCORE_INLINE bool narrow_group_may_store_full(const PoolGeom& g, int64_t row, int64_t end, int64_t lo, int width) {
  return row * g.ow + lo + width <= end * g.ow;
}

DLCORE_INLINE float avg_divisor(const PoolGeom& g, const RowWindow& r, int64_t ws, int64_t we, int64_t cols_with_pad) {
  // The padded window may be huge (kernel and padding up to 2^31 - 1): its
  // area in double, not an int64 product that could overflow.
  return g.count_include_pad ? float(double(r.count_with_pad) * double(cols_with_pad))
                             : float((r.he - r.hs) * (we - ws));
}

// ---------------------------------------------------------------- max forward

// Any window, one output: scanned in increasing flat index, so the first of
// equal maxima wins (PoolVec<Scalar>::takes is the rule).
DLCORE_INLINE void max_window(const float* plane, int64_t w, const RowWindow& r, int64_t ws, int64_t we, float* y,
                              int32_t* idx) {
  using P = PoolVec<simd::Scalar>;
  float best = plane[r.hs * w + ws];
  int32_t best_i = int32_t(r.hs * w + ws);
  for (int64_t ih = r.hs; ih < r.he; ++ih)
    for (int64_t iw = ws; iw < we; ++iw) {
      // Written as selects: on random data `v > best` is unpredictable.
      const float v = plane[ih * w + iw];
      const bool take = P::takes(v, best);
      best = take ? v : best;
      best_i = take ? int32_t(ih * w + iw) : best_i;
    }
  *y = best;
  *idx = best_i;
}

// `width` consecutive interior outputs starting at column ow.
template <class V, int S>
DLCORE_INLINE void max_group(const PoolGeom& g, const float* plane, const RowWindow& r, int64_t ow,
                             typename PoolVec<V>::gather_t gat, typename PoolVec<V>::ireg lanes, float* y,
                             int32_t* idx) {
  using P = PoolVec<V>;
  const int64_t c0 = ow * g.sw - g.pw;
  typename P::reg best = P::template load_strided<S>(plane + r.hs * g.w + c0, gat);
  typename P::ireg best_i = P::iadd(P::iset1(int32_t(r.hs * g.w + c0)), lanes);
  for (int64_t ih = r.hs; ih < r.he; ++ih) {
    const float* row = plane + ih * g.w + c0;
    for (int64_t k = ih == r.hs ? 1 : 0; k < g.kw; ++k) {
      typename P::reg v = P::template load_strided<S>(row + k, gat);
      typename P::mask m = P::takes(v, best);
      best = P::select(m, v, best);
      best_i = P::iselect(m, P::iadd(P::iset1(int32_t(ih * g.w + c0 + k)), lanes), best_i);
    }
  }
  V::store(y, best);
  P::istore(idx, best_i);
}

template <class V, int S>
void max_forward_rows_s(const PoolArgs& a, int64_t begin, int64_t end) {
  using P = PoolVec<V>;
  const PoolGeom& g = a.g;
  int64_t lo, hi;
  interior_columns(g, &lo, &hi);
  const auto gat = P::gather_offsets(int(g.sw));
  const auto lanes = P::lane_offsets(int(g.sw));
  const bool vector_interior = hi - lo >= V::width;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t plane_i = row / g.oh, oh = row % g.oh;
    const float* plane = a.x + plane_i * g.in_plane();
    float* y = a.y + row * g.ow;
    int32_t* idx = a.indices + row * g.ow;
    const RowWindow r = row_window(g, oh);
    auto scalar = [&](int64_t ow) {
      ColWindow c = col_window(g, ow);
      max_window(plane, g.w, r, c.ws, c.we, y + ow, idx + ow);
    };
    for (int64_t ow = 0; ow < lo; ++ow) scalar(ow);
    if (vector_interior) {
      int64_t ow = lo;
      for (; ow + V::width <= hi; ow += V::width) max_group<V, S>(g, plane, r, ow, gat, lanes, y + ow, idx + ow);
      if (ow < hi) max_group<V, S>(g, plane, r, hi - V::width, gat, lanes, y + hi - V::width, idx + hi - V::width);
    } else if (hi > lo && narrow_group_reads_inside(a, plane, r, lo, V::width)) {
      if (narrow_group_may_store_full(g, row, end, lo, V::width)) {
        max_group<V, S>(g, plane, r, lo, gat, lanes, y + lo, idx + lo);
      } else {
        alignas(64) float yb[V::width];
        alignas(64) int32_t ib[V::width];
        max_group<V, S>(g, plane, r, lo, gat, lanes, yb, ib);
        for (int64_t j = 0; j < hi - lo; ++j) {
          y[lo + j] = yb[j];
          idx[lo + j] = ib[j];
        }
      }
    } else {
      for (int64_t ow = lo; ow < hi; ++ow) scalar(ow);
    }
    for (int64_t ow = hi; ow < g.ow; ++ow) scalar(ow);
  }
}

// ---------------------------------------------------------------- avg forward

// Sum over any window: per window row, vector partial sums over the
// contiguous columns [ws, we), reduced once at the end.
template <class V>
DLCORE_INLINE float window_sum(const float* plane, int64_t w, const RowWindow& r, int64_t ws, int64_t we) {
  typename V::reg acc = V::zero();
  int64_t len = we - ws, rows = r.he - r.hs, row_stride = w;
  if (ws == 0 && we == w) {  // whole rows (global pooling): one contiguous run
    len *= rows;
    rows = 1;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const float* p = plane + (r.hs + i) * row_stride + ws;
    int64_t j = 0;
    for (; j + V::width <= len; j += V::width) acc = V::add(acc, V::load(p + j));
    if (j < len) acc = V::add(acc, V::load_partial(p + j, int(len - j)));
  }
  return V::reduce_add(acc);
}

template <class V, int S>
DLCORE_INLINE void avg_group(const PoolGeom& g, const float* plane, const RowWindow& r, int64_t ow,
                             typename PoolVec<V>::gather_t gat, typename V::reg divisor, float* y) {
  using P = PoolVec<V>;
  const int64_t c0 = ow * g.sw - g.pw;
  typename V::reg acc = V::zero();
  for (int64_t ih = r.hs; ih < r.he; ++ih) {
    const float* row = plane + ih * g.w + c0;
    for (int64_t k = 0; k < g.kw; ++k) acc = V::add(acc, P::template load_strided<S>(row + k, gat));
  }
  V::store(y, V::div(acc, divisor));
}

template <class V, int S>
void avg_forward_rows_s(const PoolArgs& a, int64_t begin, int64_t end) {
  using P = PoolVec<V>;
  const PoolGeom& g = a.g;
  int64_t lo, hi;
  interior_columns(g, &lo, &hi);
  const auto gat = P::gather_offsets(int(g.sw));
  const bool vector_interior = hi - lo >= V::width;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t plane_i = row / g.oh, oh = row % g.oh;
    const float* plane = a.x + plane_i * g.in_plane();
    float* y = a.y + row * g.ow;
    const RowWindow r = row_window(g, oh);
    auto scalar = [&](int64_t ow) {
      ColWindow c = col_window(g, ow);
      y[ow] = window_sum<V>(plane, g.w, r, c.ws, c.we) / avg_divisor(g, r, c.ws, c.we, c.count_with_pad);
    };
    for (int64_t ow = 0; ow < lo; ++ow) scalar(ow);
    if (vector_interior) {
      // Interior windows span all kw columns, with or without padding counted.
      const auto divisor = V::set1(avg_divisor(g, r, 0, g.kw, g.kw));
      int64_t ow = lo;
      for (; ow + V::width <= hi; ow += V::width) avg_group<V, S>(g, plane, r, ow, gat, divisor, y + ow);
      if (ow < hi) avg_group<V, S>(g, plane, r, hi - V::width, gat, divisor, y + hi - V::width);
    } else if (hi > lo && narrow_group_reads_inside(a, plane, r, lo, V::width)) {  // see max_forward_rows_s
      const auto divisor = V::set1(avg_divisor(g, r, 0, g.kw, g.kw));
      if (narrow_group_may_store_full(g, row, end, lo, V::width)) {
        avg_group<V, S>(g, plane, r, lo, gat, divisor, y + lo);
      } else {
        alignas(64) float yb[V::width];
        avg_group<V, S>(g, plane, r, lo, gat, divisor, yb);
        for (int64_t j = 0; j < hi - lo; ++j) y[lo + j] = yb[j];
      }
    } else {
      for (int64_t ow = lo; ow < hi; ++ow) scalar(ow);
    }
    for (int64_t ow = hi; ow < g.ow; ++ow) scalar(ow);
  }
}

// Strides 1 and 2 (nearly every network) get shuffle loads; others gather.
template <class V>
void max_forward_rows(const PoolArgs& a, int64_t begin, int64_t end) {
  if (a.g.sw == 1) return max_forward_rows_s<V, 1>(a, begin, end);
  if (a.g.sw == 2) return max_forward_rows_s<V, 2>(a, begin, end);
  max_forward_rows_s<V, 0>(a, begin, end);
}

template <class V>
void avg_forward_rows(const PoolArgs& a, int64_t begin, int64_t end) {
  if (a.g.sw == 1) return avg_forward_rows_s<V, 1>(a, begin, end);
  if (a.g.sw == 2) return avg_forward_rows_s<V, 2>(a, begin, end);
  avg_forward_rows_s<V, 0>(a, begin, end);
}

template <class V>
void max_forward_rows_gather(const PoolArgs& a, int64_t begin, int64_t end) {
  max_forward_rows_s<V, 0>(a, begin, end);
}

template <class V>
void avg_forward_rows_gather(const PoolArgs& a, int64_t begin, int64_t end) {
  avg_forward_rows_s<V, 0>(a, begin, end);
}

// ---------------------------------------------------------------- backward

// Stores the first n lanes of v. Through a small buffer rather than a masked
// store: masked stores are slow on AMD cores (microcoded) and block store
// forwarding to the loads that follow.
template <class V>
DLCORE_INLINE void store_first(float* p, typename V::reg v, int n) {
  alignas(64) float lanes[V::width];
  V::store(lanes, v);
  for (int i = 0; i < n; ++i) p[i] = lanes[i];
}

// Plain vector stores, never a memset call: glibc's memset of a 12 KiB plane
// uses `rep stosb`, which on this AMD core leaves the lines out of cache, so
// the scatter that follows missed (max backward ran 2x slower).
#if defined(__GNUC__) && !defined(__clang__)
#define DLCORE_NO_MEMSET_IDIOM __attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
#else
#define DLCORE_NO_MEMSET_IDIOM __attribute__((noinline))
#endif
template <class V>
DLCORE_NO_MEMSET_IDIOM void fill(float* p, int64_t n, float value) {
  const typename V::reg v = V::set1(value);
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) V::store(p + i, v);
  for (; i < n; ++i) p[i] = value;
}

// dx = 0, then dx[idx] += dy per output. The plane is zeroed right before its
// scatter, so it is still in cache and reaches memory once.
template <class V>
int64_t max_backward_planes(const PoolArgs& a, int64_t begin, int64_t end) {
  const PoolGeom& g = a.g;
  const int64_t in = g.in_plane(), out = g.out_plane();
  int64_t bad = 0;
  for (int64_t p = begin; p < end; ++p) {
    float* dx = a.dx + p * in;
    const float* dy = a.dy + p * out;
    const int32_t* idx = a.indices_in + p * out;
    fill<V>(dx, in, 0.0f);
    for (int64_t o = 0; o < out; ++o) {
      const int64_t i = idx[o];
      if (i >= 0 && i < in)
        dx[i] += dy[o];
      else
        ++bad;  // reported by the entry; never written out of bounds
    }
  }
  return bad;
}

// The output rows [first, last] whose window covers input row ih, advanced
// row by row (no divisions: this runs for every input row of every plane).
struct CoveringRows {
  int64_t first = 0, last = -1;
  DLCORE_INLINE void advance_to(const PoolGeom& g, int64_t ih) {
    while (last + 1 < g.oh && (last + 1) * g.sh - g.ph <= ih) ++last;   // window starts at or above ih
    while (first <= last && first * g.sh - g.ph + g.kh <= ih) ++first;  // window ends above ih
  }
};

// Global pooling (one window covering the whole plane, no padding; ResNet's
// ave_pool5): every input gets dy / (H*W), the same float the separable
// passes below produce (they add it to zero once), written in one fill.
DLCORE_INLINE bool is_global_window(const PoolGeom& g) {
  return g.oh == 1 && g.ow == 1 && g.ph == 0 && g.pw == 0 && g.kh == g.h && g.kw == g.w;
}

template <class V>
void avg_backward_planes(const PoolArgs& a, int64_t begin, int64_t end, float* spread) {
  const PoolGeom& g = a.g;
  const int64_t in = g.in_plane(), out = g.out_plane();
  if (is_global_window(g)) {
    const RowWindow r = row_window(g, 0);
    const ColWindow c = col_window(g, 0);
    const float divisor = avg_divisor(g, r, c.ws, c.we, c.count_with_pad);
    for (int64_t p = begin; p < end; ++p) fill<V>(a.dx + p * in, in, a.dy[p] / divisor);
    return;
  }
  for (int64_t p = begin; p < end; ++p) {
    const float* dy = a.dy + p * out;
    float* dx = a.dx + p * in;
    // Column pass: spread[oh][iw] = sum over ow covering iw of dy / divisor.
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const RowWindow r = row_window(g, oh);
      float* s = spread + oh * g.w;
      fill<V>(s, g.w, 0.0f);
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const ColWindow c = col_window(g, ow);
        const float grad = dy[oh * g.ow + ow] / avg_divisor(g, r, c.ws, c.we, c.count_with_pad);
        for (int64_t iw = c.ws; iw < c.we; ++iw) s[iw] += grad;
      }
    }
    // Row pass: dx[ih] = sum of the spread rows of the outputs covering ih.
    CoveringRows cover;
    for (int64_t ih = 0; ih < g.h; ++ih) {
      cover.advance_to(g, ih);
      const int64_t first = cover.first, last = cover.last;
      float* d = dx + ih * g.w;
      int64_t j = 0;
      for (; j + V::width <= g.w; j += V::width) {
        typename V::reg acc = V::zero();
        for (int64_t oh = first; oh <= last; ++oh) acc = V::add(acc, V::load(spread + oh * g.w + j));
        V::store(d + j, acc);
      }
      // Remainder columns in scalar code: the spread row was just written by
      // scalar stores, and a masked vector load of it would wait for them
      // (no store forwarding into masked loads).
      for (; j < g.w; ++j) {
        float acc = 0.0f;
        for (int64_t oh = first; oh <= last; ++oh) acc += spread[oh * g.w + j];
        d[j] = acc;
      }
    }
  }
}

template <class V>
const PoolKernels& pool_kernel_table() {
  static const PoolKernels table{&max_forward_rows<V>,    &avg_forward_rows<V>,        &max_backward_planes<V>,
                                 &avg_backward_planes<V>, &max_forward_rows_gather<V>, &avg_forward_rows_gather<V>};
  return table;
}

}  // namespace
}  // namespace pool
}  // namespace dlcore
