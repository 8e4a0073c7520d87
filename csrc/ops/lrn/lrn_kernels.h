// LRN kernel bodies, templates over the vector type V (core/simd.h) and the
// power policy (lrn_math.h). lrn.cpp instantiates them with simd::Scalar (the
// reference), the *_avx2 / *_avx512 files with their vector type.
//
// Across channels, vectors run over contiguous spatial positions: a work unit
// is one image and a chunk of positions (forward: also a block of channels),
// walked channel by channel; the window
// sum of squares is summed directly (n FMAs from L1) rather than as a running
// sum, so a large x leaving the window cannot leave cancellation error behind
// and every path sums in the same order. Backward keeps s^-beta and
// dy x s^(-beta-1) for the whole chunk in scratch (sized to stay in L2), then
// sums the latter over the mirrored window.
// Within a channel, the size x size box sum is separable: column sums of the
// window rows, then a row sum over a zero-padded buffer.
// Remainders use masked partial loads/stores (V::load_partial): no element is
// read or written outside its row.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/simd.h"
#include "ops/lrn/lrn.h"
#include "ops/lrn/lrn_math.h"

namespace dlcore {
namespace lrn {
namespace {

template <class V>
DLCORE_INLINE typename V::reg load_n(const float* p, int n) {
  return n == V::width ? V::load(p) : V::load_partial(p, n);
}

// f(j, live) for j = 0, width, 2*width, ... < len; the last call may be partial.
template <class V, class F>
DLCORE_INLINE void vector_loop(int64_t len, F&& f) {
  int64_t j = 0;
  for (; j + V::width <= len; j += V::width) f(j, V::width);
  if (j < len) f(j, int(len - j));
}

// ------------------------------------------------------------ across channels

// Vectors handled side by side in the across-channel loops. One vector per
// iteration left a Zen 1 core waiting: its window sum (a chain of `size`
// FMAs) and the power (rsqrt, three FMAs, a square root, two products) are
// ~80 cycles of latency, more than the reorder window hides. Four
// independent chains keep the pipes busy (norm2 forward, 1 thread: ~10%).
constexpr int kGroup = 4;

// body.template run<G>(j, n) over [0, len): groups of kGroup full vectors,
// then single vectors, the last with n < width live lanes.
template <class V, class Body>
DLCORE_INLINE void grouped_loop(int64_t len, const Body& body) {
  constexpr int64_t kStep = kGroup * V::width;
  int64_t j = 0;
  for (; j + kStep <= len; j += kStep) body.template run<kGroup>(j, V::width);
  for (; j < len; j += V::width) body.template run<1>(j, int(std::min<int64_t>(V::width, len - j)));
}

// acc[g] = sum over cc = lo..hi of f(base[cc * stride + g * width]) for G
// vectors, f squaring when Square; the last vector has n live lanes (dead
// ones read 0). Each lane sums in channel order on every path.
template <class V, int G, bool Square>
DLCORE_INLINE void window_sums(const float* base, int64_t stride, int64_t lo, int64_t hi, int n, typename V::reg* acc) {
  for (int g = 0; g < G; ++g) acc[g] = V::zero();
  for (int64_t cc = lo; cc <= hi; ++cc) {
    for (int g = 0; g < G; ++g) {
      const auto v = load_n<V>(base + cc * stride + g * V::width, g == G - 1 ? n : V::width);
      acc[g] = Square ? V::fmadd(v, v, acc[g]) : V::add(acc[g], v);
    }
  }
}

// Channel rows are short streams (one chunk, a few cache lines) HW floats
// apart, too short for the hardware prefetcher to pick up: fetch the row that
// enters the window kPrefetchAhead channels ahead of time.
constexpr int64_t kPrefetchAhead = 2;

DLCORE_INLINE void prefetch_row(const float* p, int64_t len) {
  for (int64_t j = 0; j < len; j += 16) __builtin_prefetch(p + j, 0, 3);
}

struct Unit {
  int64_t offset;  // of the image's first channel, position p0
  int64_t len;     // positions in this chunk
};

DLCORE_INLINE Unit unit_of(const LrnArgs& a, int64_t u) {
  const int64_t hw = a.plane(), chunks = (hw + a.chunk - 1) / a.chunk;
  const int64_t image = u / chunks, p0 = (u % chunks) * a.chunk;
  return {image * a.c * hw + p0, std::min(a.chunk, hw - p0)};
}

// s = k + alpha * (window sum of squares) for G vectors from position j (the
// last one n lanes live), handed to f(position, live lanes, s) vector by vector.
template <class V, int G, class F>
DLCORE_INLINE void for_each_window(const float* x, int64_t hw, int64_t lo, int64_t hi, int64_t j, int n,
                                   typename V::reg alpha, typename V::reg k, const F& f) {
  typename V::reg acc[G];
  window_sums<V, G, true>(x + j, hw, lo, hi, n, acc);
  for (int g = 0; g < G; ++g) f(j + g * V::width, g == G - 1 ? n : V::width, V::fmadd(acc[g], alpha, k));
}

// y = x s^-beta for the vectors of one channel row.
template <class V, class Pow>
struct AcrossForwardRow {
  const Pow& pw;
  const float* x;  // the unit's channel 0
  float* y;        // channel c
  int64_t hw, lo, hi, c;
  typename V::reg alpha, k;
  typename V::reg* smax;  // running max of s (overflow detection)
  template <int G>
  DLCORE_INLINE void run(int64_t j, int n) const {
    for_each_window<V, G>(x, hw, lo, hi, j, n, alpha, k, [&](int64_t at, int live, typename V::reg s) {
      *smax = V::max(s, *smax);
      simd::store_first<V>(y + at, pw.scale(load_n<V>(x + c * hw + at, live), s), live);
    });
  }
};

// Forward units are (image, block of channels, chunk of positions), in that
// order, so that a thread's contiguous range of units reads one stream when a
// chunk is the whole plane.
// (Tried: squaring each x once into an L1 ring of the window's rows, the
// window sum then size - 1 adds instead of `size` FMAs. No change on a Zen 1
// core, 1.40 ns per element either way: the power's square root and FMAs
// bound it, not the window. Not kept.)
// Overflow detection: every kernel below keeps the running maximum of s
// (V::max(s, m) keeps m when s is NaN) and returns true when some s is +inf:
// the sum of squares overflowed float32 (or x holds an inf). The driver
// (lrn.cpp) then recomputes the whole call in double precision, where it
// cannot overflow; a finite s never needs that.
template <class V>
DLCORE_INLINE bool overflowed(typename V::reg smax) {
  return V::reduce_max(smax) == INFINITY;
}

template <class V, class Pow>
bool across_forward_t(const LrnArgs& a, int64_t begin, int64_t end) {
  const Pow pw(a.beta);
  auto smax = V::zero();
  const int64_t hw = a.plane(), chunks = (hw + a.chunk - 1) / a.chunk;
  const int64_t blocks = (a.c + a.cblock - 1) / a.cblock;
  const auto alpha = V::set1(a.scaled_alpha()), k = V::set1(a.k);
  for (int64_t u = begin; u < end; ++u) {
    const int64_t image = u / (blocks * chunks), block = u / chunks % blocks, p0 = u % chunks * a.chunk;
    const int64_t len = std::min(a.chunk, hw - p0), c0 = block * a.cblock, c1 = std::min(a.c, c0 + a.cblock);
    const float* x = a.x + image * a.c * hw + p0;
    float* y = a.y + image * a.c * hw + p0;
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t lo = std::max<int64_t>(0, c - a.front()), hi = std::min(a.c - 1, c + a.back());
      if (hi + kPrefetchAhead < a.c) prefetch_row(x + (hi + kPrefetchAhead) * hw, len);
      grouped_loop<V>(len, AcrossForwardRow<V, Pow>{pw, x, y + c * hw, hw, lo, hi, c, alpha, k, &smax});
    }
  }
  return overflowed<V>(smax);
}

// Backward, first pass over one channel row: s^-beta and dy x s^(-beta-1)
// into the scratch rows (chunk floats each: whole vectors are stored).
template <class V, class Pow>
struct AcrossPowersRow {
  const Pow& pw;
  const float *x, *dy;  // the unit's channel 0
  float *inv_pow, *t;   // channel c's scratch rows
  int64_t hw, lo, hi, c;
  typename V::reg alpha, k;
  typename V::reg* smax;  // running max of s (overflow detection)
  template <int G>
  DLCORE_INLINE void run(int64_t j, int n) const {
    for_each_window<V, G>(x, hw, lo, hi, j, n, alpha, k, [&](int64_t at, int live, typename V::reg s) {
      *smax = V::max(s, *smax);
      typename V::reg p, p_over_s;
      pw.powers(s, &p, &p_over_s);
      const auto dyx = V::mul(load_n<V>(dy + c * hw + at, live), load_n<V>(x + c * hw + at, live));
      V::store(inv_pow + at, p);
      V::store(t + at, V::mul(dyx, p_over_s));
    });
  }
};

// Second pass: dx = dy s^-beta - 2 a beta x sum_{mirrored window} t.
template <class V>
struct AcrossGradRow {
  const float *x, *dy, *inv_pow;  // channel c
  const float* t;                 // channel 0's scratch row
  float* dx;                      // channel c
  int64_t ch, lo, hi;
  typename V::reg coef;
  template <int G>
  DLCORE_INLINE void run(int64_t j, int n) const {
    typename V::reg acc[G];
    window_sums<V, G, false>(t + j, ch, lo, hi, V::width, acc);  // scratch rows hold whole vectors
    for (int g = 0; g < G; ++g) {
      const int live = g == G - 1 ? n : V::width;
      const int64_t at = j + g * V::width;
      const auto first = V::mul(load_n<V>(dy + at, live), V::load(inv_pow + at));
      simd::store_first<V>(dx + at, V::fmadd(V::mul(coef, load_n<V>(x + at, live)), acc[g], first), live);
    }
  }
};

template <class V, class Pow>
bool across_backward_t(const LrnArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Pow pw(a.beta);
  auto smax = V::zero();
  const int64_t hw = a.plane(), ch = a.chunk;
  const auto alpha = V::set1(a.scaled_alpha()), k = V::set1(a.k);
  const auto coef = V::set1(-2.0f * a.scaled_alpha() * a.beta);
  float* inv_pow = scratch;       // s^-beta,            C x chunk
  float* t = scratch + a.c * ch;  // dy x s^(-beta-1),   C x chunk
  for (int64_t u = begin; u < end; ++u) {
    const Unit unit = unit_of(a, u);
    const float* x = a.x + unit.offset;
    const float* dy = a.dy + unit.offset;
    float* dx = a.dx + unit.offset;
    for (int64_t c = 0; c < a.c; ++c) {
      const int64_t lo = std::max<int64_t>(0, c - a.front()), hi = std::min(a.c - 1, c + a.back());
      if (hi + kPrefetchAhead < a.c) prefetch_row(x + (hi + kPrefetchAhead) * hw, unit.len);
      if (c + kPrefetchAhead < a.c) prefetch_row(dy + (c + kPrefetchAhead) * hw, unit.len);
      grouped_loop<V>(unit.len,
                      AcrossPowersRow<V, Pow>{pw, x, dy, inv_pow + c * ch, t + c * ch, hw, lo, hi, c, alpha, k, &smax});
    }
    for (int64_t c = 0; c < a.c; ++c) {
      // Mirrored window: the channels whose window contains c.
      const int64_t lo = std::max<int64_t>(0, c - a.back()), hi = std::min(a.c - 1, c + a.front());
      grouped_loop<V>(unit.len,
                      AcrossGradRow<V>{x + c * hw, dy + c * hw, inv_pow + c * ch, t, dx + c * hw, ch, lo, hi, coef});
    }
  }
  return overflowed<V>(smax);
}

// ------------------------------------------------------------ within channel

// sums[w] = sum over the (front, back) box around (h, w) of f(src), where f
// squares when Square. `padded` holds W + front + back floats.
template <class V, bool Square>
void box_sums_row(const float* src, int64_t H, int64_t W, int64_t h, int64_t front, int64_t back, float* padded,
                  float* sums) {
  const int64_t lo = std::max<int64_t>(0, h - front), hi = std::min(H - 1, h + back);
  for (int64_t i = 0; i < front; ++i) padded[i] = 0.0f;
  for (int64_t i = 0; i < back; ++i) padded[front + W + i] = 0.0f;
  vector_loop<V>(W, [&](int64_t j, int n) {
    auto acc = V::zero();
    for (int64_t hh = lo; hh <= hi; ++hh) {
      const auto v = load_n<V>(src + hh * W + j, n);
      acc = Square ? V::fmadd(v, v, acc) : V::add(acc, v);
    }
    simd::store_first<V>(padded + front + j, acc, n);
  });
  const int64_t taps = front + back + 1;
  vector_loop<V>(W, [&](int64_t j, int n) {
    auto acc = V::zero();
    for (int64_t d = 0; d < taps; ++d) acc = V::add(acc, load_n<V>(padded + j + d, n));
    simd::store_first<V>(sums + j, acc, n);
  });
}

// The padded row (W + front + back) and the row of sums (W).
DLCORE_INLINE int64_t row_scratch_floats(const LrnArgs& a) { return 2 * a.w + a.front() + a.back() + 1; }

template <class V, class Pow>
bool within_forward_t(const LrnArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Pow pw(a.beta);
  const auto alpha = V::set1(a.scaled_alpha()), k = V::set1(a.k);
  auto smax = V::zero();
  float* padded = scratch;
  float* sums = scratch + a.w + a.front() + a.back() + 1;
  for (int64_t p = begin; p < end; ++p) {
    const float* x = a.x + p * a.plane();
    float* y = a.y + p * a.plane();
    for (int64_t h = 0; h < a.h; ++h) {
      box_sums_row<V, true>(x, a.h, a.w, h, a.front(), a.back(), padded, sums);
      vector_loop<V>(a.w, [&](int64_t j, int n) {
        const auto s = V::fmadd(load_n<V>(sums + j, n), alpha, k);
        smax = V::max(s, smax);
        simd::store_first<V>(y + h * a.w + j, pw.scale(load_n<V>(x + h * a.w + j, n), s), n);
      });
    }
  }
  return overflowed<V>(smax);
}

template <class V, class Pow>
bool within_backward_t(const LrnArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Pow pw(a.beta);
  const auto alpha = V::set1(a.scaled_alpha()), k = V::set1(a.k);
  const auto coef = V::set1(-2.0f * a.scaled_alpha() * a.beta);
  auto smax = V::zero();
  float* padded = scratch;
  float* sums = scratch + a.w + a.front() + a.back() + 1;
  float* inv_pow = sums + a.w;     // plane
  float* t = inv_pow + a.plane();  // plane
  for (int64_t p = begin; p < end; ++p) {
    const float* x = a.x + p * a.plane();
    const float* dy = a.dy + p * a.plane();
    float* dx = a.dx + p * a.plane();
    for (int64_t h = 0; h < a.h; ++h) {
      box_sums_row<V, true>(x, a.h, a.w, h, a.front(), a.back(), padded, sums);
      const int64_t r = h * a.w;
      vector_loop<V>(a.w, [&](int64_t j, int n) {
        const auto s = V::fmadd(load_n<V>(sums + j, n), alpha, k);
        smax = V::max(s, smax);
        typename V::reg pv, pv_over_s;
        pw.powers(s, &pv, &pv_over_s);
        const auto g = V::mul(load_n<V>(dy + r + j, n), load_n<V>(x + r + j, n));
        simd::store_first<V>(inv_pow + r + j, pv, n);
        simd::store_first<V>(t + r + j, V::mul(g, pv_over_s), n);
      });
    }
    for (int64_t h = 0; h < a.h; ++h) {
      // The mirrored box: reach `back` before and `front` after.
      box_sums_row<V, false>(t, a.h, a.w, h, a.back(), a.front(), padded, sums);
      const int64_t r = h * a.w;
      vector_loop<V>(a.w, [&](int64_t j, int n) {
        const auto xv = load_n<V>(x + r + j, n);
        const auto first = V::mul(load_n<V>(dy + r + j, n), load_n<V>(inv_pow + r + j, n));
        simd::store_first<V>(dx + r + j, V::fmadd(V::mul(coef, xv), load_n<V>(sums + j, n), first), n);
      });
    }
  }
  return overflowed<V>(smax);
}

// ------------------------------------------------------------ dispatch on beta

// The beta = 0.75 form needs s >= k to stay in its range (lrn_math.h).
DLCORE_INLINE bool three_quarter(const LrnArgs& a) { return a.beta == 0.75f && a.k >= kThreeQuarterMinS; }

template <class V>
bool across_forward(const LrnArgs& a, int64_t b, int64_t e) {
  if (three_quarter(a)) return across_forward_t<V, ThreeQuarterPower<V>>(a, b, e);
  return across_forward_t<V, GeneralPower<V>>(a, b, e);
}
template <class V>
bool across_backward(const LrnArgs& a, int64_t b, int64_t e, float* s) {
  if (three_quarter(a)) return across_backward_t<V, ThreeQuarterPower<V>>(a, b, e, s);
  return across_backward_t<V, GeneralPower<V>>(a, b, e, s);
}
template <class V>
bool within_forward(const LrnArgs& a, int64_t b, int64_t e, float* s) {
  if (three_quarter(a)) return within_forward_t<V, ThreeQuarterPower<V>>(a, b, e, s);
  return within_forward_t<V, GeneralPower<V>>(a, b, e, s);
}
template <class V>
bool within_backward(const LrnArgs& a, int64_t b, int64_t e, float* s) {
  if (three_quarter(a)) return within_backward_t<V, ThreeQuarterPower<V>>(a, b, e, s);
  return within_backward_t<V, GeneralPower<V>>(a, b, e, s);
}

template <class V>
void power(const float* s, float* out, int64_t count, float beta) {
  const NegPower<V> pw(beta);
  vector_loop<V>(count, [&](int64_t j, int n) { simd::store_first<V>(out + j, pw(load_n<V>(s + j, n)), n); });
}

template <class V>
const LrnKernels& lrn_kernel_table() {
  static const LrnKernels table{&across_forward<V>, &across_backward<V>, &within_forward<V>, &within_backward<V>,
                                &power<V>};
  return table;
}

}  // namespace
}  // namespace lrn
}  // namespace dlcore
