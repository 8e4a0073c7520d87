// Activation kernels, written once over the vector type V (simd::Scalar for
// the reference, simd::Avx2, simd::Avx512). Include only from eltwise.cpp /
// eltwise_avx2.cpp / eltwise_avx512.cpp; everything is in an anonymous
// namespace so each ISA keeps its own copy.
#pragma once
#include <vector>

#include "core/epilogue.h"
#include "core/simd.h"
#include "core/simd_math.h"
#include "ops/eltwise/eltwise.h"
#include "ops/eltwise/loops.h"

namespace dlcore {
namespace {

// ---- the formulas: one functor per map; (a, b) are (x, unused) for forward
// maps and (dy, x or y) for backward maps ----

// x > 0 ? x : slope * x; NaN propagates. With slope 0 the negative side is
// exactly 0, also for x = -inf (slope * x would be -inf * 0 = NaN; issue 18).
template <class V>
struct ReluForward {
  static constexpr bool binary = false;
  typename V::reg slope;
  bool zero_slope;
  explicit ReluForward(float s) : slope(V::set1(s)), zero_slope(s == 0.0f) {}
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const {
    if (zero_slope) return relu_vec<V>(x);  // the formula the fused conv/GEMM epilogues use too
    return V::select(V::cmp_gt(x, V::zero()), x, V::mul(x, slope));
  }
};

// x > 0 ? dy : slope * dy; the gradient at 0 is the slope side. With slope 0
// the negative side is exactly 0 (also for an infinite or NaN dy: the op is
// constant there, like PyTorch's threshold_backward).
template <class V>
struct ReluBackward {
  static constexpr bool binary = true;
  typename V::reg slope;
  bool zero_slope;
  explicit ReluBackward(float s) : slope(V::set1(s)), zero_slope(s == 0.0f) {}
  DLCORE_INLINE typename V::reg operator()(typename V::reg dy, typename V::reg x) const {
    const auto neg = zero_slope ? V::zero() : V::mul(dy, slope);
    return V::select(V::cmp_gt(x, V::zero()), dy, neg);
  }
};

// PReLU over a row of channels: (x, w) -> x > 0 ? x : w x.
template <class V>
struct PreluRow {
  static constexpr bool binary = true;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg w) const {
    return V::select(V::cmp_gt(x, V::zero()), x, V::mul(x, w));
  }
};

template <class V>
struct SigmoidForward {
  static constexpr bool binary = false;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const { return simd::vsigmoid<V>(x); }
};

template <class V>
struct SigmoidBackward {  // dy * y (1 - y)
  static constexpr bool binary = true;
  DLCORE_INLINE typename V::reg operator()(typename V::reg dy, typename V::reg y) const {
    return V::mul(V::mul(dy, y), V::sub(V::set1(1.0f), y));
  }
};

template <class V>
struct TanhForward {
  static constexpr bool binary = false;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const { return simd::vtanh<V>(x); }
};

template <class V>
struct TanhBackward {  // dy (1 - y^2)
  static constexpr bool binary = true;
  DLCORE_INLINE typename V::reg operator()(typename V::reg dy, typename V::reg y) const {
    return V::mul(dy, V::fnmadd(y, y, V::set1(1.0f)));
  }
};

template <class V>
struct EluForward {  // x > 0 ? x : alpha (e^x - 1)
  static constexpr bool binary = false;
  typename V::reg alpha;
  explicit EluForward(float a) : alpha(V::set1(a)) {}
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const {
    typename V::reg neg = V::mul(alpha, V::sub(simd::vexp<V>(x), V::set1(1.0f)));
    return V::select(V::cmp_gt(x, V::zero()), x, neg);
  }
};

template <class V>
struct EluBackward {  // dy * (x > 0 ? 1 : alpha e^x)
  static constexpr bool binary = true;
  typename V::reg alpha;
  explicit EluBackward(float a) : alpha(V::set1(a)) {}
  DLCORE_INLINE typename V::reg operator()(typename V::reg dy, typename V::reg x) const {
    typename V::reg neg = V::mul(dy, V::mul(alpha, simd::vexp<V>(x)));
    return V::select(V::cmp_gt(x, V::zero()), dy, neg);
  }
};

template <class V>
struct AbsForward {
  static constexpr bool binary = false;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const { return V::abs(x); }
};

template <class V>
struct AbsBackward {  // dy * sign(x), sign(0) = 0, sign(NaN) = NaN
  static constexpr bool binary = true;
  DLCORE_INLINE typename V::reg operator()(typename V::reg dy, typename V::reg x) const {
    const typename V::reg zero = V::zero();
    typename V::reg sign =
        V::select(V::cmp_gt(x, zero), V::set1(1.0f), V::select(V::cmp_lt(x, zero), V::set1(-1.0f), V::mul(x, zero)));
    return V::mul(dy, sign);
  }
};

template <class V>
struct ExpMap {
  static constexpr bool binary = false;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const { return simd::vexp<V>(x); }
};

template <class V>
struct LogMap {
  static constexpr bool binary = false;
  DLCORE_INLINE typename V::reg operator()(typename V::reg x, typename V::reg) const { return simd::vlog<V>(x); }
};

// ---- drivers ----

template <class V>
void eltwise_kernel(const EltwiseArgs& e) {
  switch (e.op) {
    case EltwiseOp::relu_forward:
      return map_parallel<V>(ReluForward<V>(e.alpha), e.a, e.b, e.out, e.n);
    case EltwiseOp::relu_backward:
      return map_parallel<V>(ReluBackward<V>(e.alpha), e.a, e.b, e.out, e.n);
    case EltwiseOp::sigmoid_forward:
      return map_parallel<V>(SigmoidForward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::sigmoid_backward:
      return map_parallel<V>(SigmoidBackward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::tanh_forward:
      return map_parallel<V>(TanhForward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::tanh_backward:
      return map_parallel<V>(TanhBackward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::elu_forward:
      return map_parallel<V>(EluForward<V>(e.alpha), e.a, e.b, e.out, e.n);
    case EltwiseOp::elu_backward:
      return map_parallel<V>(EluBackward<V>(e.alpha), e.a, e.b, e.out, e.n);
    case EltwiseOp::abs_forward:
      return map_parallel<V>(AbsForward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::abs_backward:
      return map_parallel<V>(AbsBackward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::vexp:
      return map_parallel<V>(ExpMap<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::vlog:
      return map_parallel<V>(LogMap<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::vtanh:
      return map_parallel<V>(TanhForward<V>(), e.a, e.b, e.out, e.n);
    case EltwiseOp::count:
      break;
  }
}

template <class V>
void prelu_forward_kernel(const PreluArgs& p) {
  const int64_t planes = p.outer * p.channels;
  const int nt = threads_for(planes * p.inner, kMinElementsPerThread);
  if (p.inner == 1) {  // (N, C): one row of channels at a time, the slopes as a vector operand
    parallel_each(p.outer, nt, [&](int64_t o) {
      map_range<V>(PreluRow<V>(), p.x + o * p.channels, p.w, p.out + o * p.channels, p.channels, false);
    });
    return;
  }
  parallel_each(planes, nt, [&](int64_t plane) {
    const int64_t off = plane * p.inner;
    map_range<V>(ReluForward<V>(p.w[plane % p.channels]), p.x + off, nullptr, p.out + off, p.inner, false);
  });
}

// dx = dy * (x > 0 ? 1 : slope) over n floats; returns sum(dy * x) where x <= 0,
// this piece's share of dslope.
template <class V>
double prelu_backward_piece(const float* dy, const float* x, float* dx, int64_t n, float slope) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const reg s = V::set1(slope), zero = V::zero();
  reg acc = zero;
  int64_t i = 0;
  for (; i < n; i += W) {
    const int count = n - i >= W ? W : int(n - i);
    const bool full = count == W;  // masked stores are microcoded on AMD: only for the tail
    reg xv = full ? V::load(x + i) : V::load_partial(x + i, count);
    reg g = full ? V::load(dy + i) : V::load_partial(dy + i, count);
    typename V::cmask pos = V::cmp_gt(xv, zero);
    if (full) {
      V::store(dx + i, V::select(pos, g, V::mul(g, s)));
    } else {
      V::store_partial(dx + i, V::select(pos, g, V::mul(g, s)), count);
    }
    acc = V::add(acc, V::select(pos, zero, V::mul(g, xv)));  // inactive lanes load 0: no effect
  }
  return double(V::reduce_add(acc));
}

// The slope gradient is a reduction; it is summed over fixed pieces of at most
// kReducePiece floats whose partial sums are added in a fixed order, so the
// result does not depend on the thread count.
constexpr int64_t kReducePiece = 16 * 1024;

template <class V>
void prelu_backward_kernel(const PreluArgs& p) {
  const int64_t pieces = (p.inner + kReducePiece - 1) / kReducePiece;
  const int64_t per_channel = p.outer * pieces;
  const int64_t items = p.channels * per_channel;
  std::vector<double> partial(static_cast<size_t>(items));
  const int nt = threads_for(p.outer * p.channels * p.inner, kMinElementsPerThread);
  parallel_each(items, nt, [&](int64_t it) {
    const int64_t c = it / per_channel, o = (it % per_channel) / pieces, k = it % pieces;
    const int64_t start = k * kReducePiece;
    const int64_t len = p.inner - start < kReducePiece ? p.inner - start : kReducePiece;
    const int64_t off = (o * p.channels + c) * p.inner + start;
    partial[size_t(it)] = prelu_backward_piece<V>(p.dy + off, p.x + off, p.out + off, len, p.w[c]);
  });
  for (int64_t c = 0; c < p.channels; ++c) {
    double sum = 0.0;
    for (int64_t k = 0; k < per_channel; ++k) sum += partial[size_t(c * per_channel + k)];
    p.dw[c] = float(sum);
  }
}

// U::width columns of one maxout group: the max over the pool channels
// (stride `inner`) and the position of the first maximum. NaN wins.
template <class U>
DLCORE_INLINE void maxout_columns(const float* x, int64_t pool, int64_t inner, float* y, int32_t* idx) {
  typename U::reg best = U::load(x), at = U::zero();
  for (int64_t j = 1; j < pool; ++j) {
    typename U::reg v = U::load(x + j * inner);
    typename U::cmask take = U::mask_or(U::cmp_gt(v, best), U::is_nan(v));
    best = U::select(take, v, best);
    at = U::select(take, U::set1(float(j)), at);
  }
  U::store(y, best);
  U::istore(idx, U::cvt_to_int(at));
}

template <class U>
DLCORE_INLINE void maxout_backward_columns(const float* dy, const int32_t* idx, int64_t pool, int64_t inner,
                                           float* dx) {
  typename U::reg g = U::load(dy), at = U::cvt_to_float(U::iload(idx));
  for (int64_t j = 0; j < pool; ++j)
    U::store(dx + j * inner, U::select(U::cmp_eq(at, U::set1(float(j))), g, U::zero()));
}

template <class V>
void maxout_forward_kernel(const MaxoutArgs& m) {
  constexpr int W = V::width;
  const int64_t planes = m.outer * m.groups;
  const int nt = threads_for(planes * m.pool * m.inner, kMinElementsPerThread);
  parallel_each(planes, nt, [&](int64_t plane) {
    const float* x = m.x + plane * m.pool * m.inner;
    float* y = m.y + plane * m.inner;
    int32_t* idx = m.idx + plane * m.inner;
    int64_t s = 0;
    for (; s + W <= m.inner; s += W) maxout_columns<V>(x + s, m.pool, m.inner, y + s, idx + s);
    for (; s < m.inner; ++s) maxout_columns<simd::Scalar>(x + s, m.pool, m.inner, y + s, idx + s);
  });
}

template <class V>
void maxout_backward_kernel(const MaxoutArgs& m) {
  constexpr int W = V::width;
  const int64_t planes = m.outer * m.groups;
  const int nt = threads_for(planes * m.pool * m.inner, kMinElementsPerThread);
  parallel_each(planes, nt, [&](int64_t plane) {
    const float* dy = m.dy + plane * m.inner;
    const int32_t* idx = m.idx + plane * m.inner;
    float* dx = m.dx + plane * m.pool * m.inner;
    int64_t s = 0;
    for (; s + W <= m.inner; s += W) maxout_backward_columns<V>(dy + s, idx + s, m.pool, m.inner, dx + s);
    for (; s < m.inner; ++s) maxout_backward_columns<simd::Scalar>(dy + s, idx + s, m.pool, m.inner, dx + s);
  });
}

}  // namespace
}  // namespace dlcore
