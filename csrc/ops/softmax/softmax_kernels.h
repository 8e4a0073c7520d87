// Softmax kernels over the vector type V. Include only from softmax.cpp /
// softmax_avx2.cpp / softmax_avx512.cpp (anonymous namespace: one copy per ISA).
//
// Stable form: y = exp(x - max) / sum exp(x - max). Rows (inner == 1) are
// vectorized along the row; otherwise vectors run across `inner` and the
// axis is walked with stride `inner`.
#pragma once
#include <limits>

#include "core/simd.h"
#include "core/simd_math.h"
#include "ops/eltwise/loops.h"
#include "ops/softmax/softmax.h"

namespace dlcore {
namespace {

// ---- one contiguous row of n floats ----

// Full vectors use plain loads and stores; only a row's last, partial vector
// is masked. Masked stores (vmaskmovps) are microcoded on AMD cores and cost
// many times a plain store, so using them for every vector of short rows
// dominated softmax on small rows.
template <class V>
DLCORE_INLINE typename V::reg load_n(const float* p, int n) {
  return n == V::width ? V::load(p) : V::load_partial(p, n);
}

template <class V>
DLCORE_INLINE void store_n(float* p, typename V::reg v, int n) {
  if (n == V::width) {
    V::store(p, v);
  } else {
    V::store_partial(p, v, n);
  }
}

// f(i, cnt) for i = 0, W, 2W, ... < n; cnt == W (a constant after inlining)
// except on the last, partial vector.
template <class V, class F>
DLCORE_INLINE void row_loop(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) f(i, V::width);
  if (i < n) f(i, int(n - i));
}

template <class V>
float row_max(const float* x, int64_t n) {
  constexpr int W = V::width;
  if (n < W) {  // too short for one vector: the scalar path of the same formula
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
  }
  typename V::reg m = V::load(x);
  int64_t i = W;
  for (; i + W <= n; i += W) m = V::max(m, V::load(x + i));
  if (i < n) m = V::max(m, V::load(x + n - W));  // overlapping last vector: harmless for a max
  return V::reduce_max(m);
}

// sum(x) over n floats; masked-off lanes load 0.
template <class V>
double row_sum(const float* x, int64_t n) {
  typename V::reg acc = V::zero();
  row_loop<V>(n, [&](int64_t i, int cnt) { acc = V::add(acc, load_n<V>(x + i, cnt)); });
  return double(V::reduce_add(acc));
}

// y = exp(x - m), stored; returns sum y.
template <class V>
double row_exp_store(const float* x, float* y, int64_t n, float m) {
  const typename V::reg mv = V::set1(m);
  row_loop<V>(n, [&](int64_t i, int cnt) { store_n<V>(y + i, simd::vexp<V>(V::sub(load_n<V>(x + i, cnt), mv)), cnt); });
  return row_sum<V>(y, n);
}

// sum exp(x - m) without storing.
template <class V>
double row_exp_sum(const float* x, int64_t n, float m) {
  constexpr int W = V::width;
  const typename V::reg mv = V::set1(m);
  typename V::reg acc = V::zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) acc = V::add(acc, simd::vexp<V>(V::sub(V::load(x + i), mv)));
  if (i < n) {  // exp of a masked lane is not 0: round-trip through a buffer
    alignas(64) float tmp[W];
    const int cnt = int(n - i);
    V::store(tmp, simd::vexp<V>(V::sub(V::load_partial(x + i, cnt), mv)));
    acc = V::add(acc, V::load_partial(tmp, cnt));
  }
  return double(V::reduce_add(acc));
}

// y = a * x + b over n floats (in place allowed).
template <class V>
void row_affine(const float* x, float* y, int64_t n, float a, float b) {
  const typename V::reg av = V::set1(a), bv = V::set1(b);
  row_loop<V>(n, [&](int64_t i, int cnt) { store_n<V>(y + i, V::fmadd(load_n<V>(x + i, cnt), av, bv), cnt); });
}

// y = (x - m) - l: subtracting the max first keeps log-probabilities of
// large logits (|x| ~ 1e4) exact to float precision.
template <class V>
void row_log_normalize(const float* x, float* y, int64_t n, float m, float l) {
  const typename V::reg mv = V::set1(m), lv = V::set1(l);
  row_loop<V>(n, [&](int64_t i, int cnt) { store_n<V>(y + i, V::sub(V::sub(load_n<V>(x + i, cnt), mv), lv), cnt); });
}

template <class V>
double row_dot(const float* a, const float* b, int64_t n) {
  typename V::reg acc = V::zero();
  row_loop<V>(n, [&](int64_t i, int cnt) { acc = V::fmadd(load_n<V>(a + i, cnt), load_n<V>(b + i, cnt), acc); });
  return double(V::reduce_add(acc));
}

// dx = y (dy - s) (softmax) or dy - exp(y) s (log-softmax).
template <class V, bool Log>
void row_backward(const float* dy, const float* y, float* dx, int64_t n, float s) {
  const typename V::reg sv = V::set1(s);
  row_loop<V>(n, [&](int64_t i, int cnt) {
    typename V::reg g = load_n<V>(dy + i, cnt), yv = load_n<V>(y + i, cnt);
    typename V::reg r = Log ? V::fnmadd(simd::vexp<V>(yv), sv, g) : V::mul(yv, V::sub(g, sv));
    store_n<V>(dx + i, r, cnt);
  });
}

template <class V>
void softmax_row(const SoftmaxArgs& a, int64_t r) {
  const int64_t n = a.len;
  const float* x = a.in + r * n;
  float* out = a.out + r * n;
  switch (a.op) {
    case SoftmaxOp::softmax_forward: {
      const float m = row_max<V>(x, n);
      const double sum = row_exp_store<V>(x, out, n, m);
      row_affine<V>(out, out, n, float(1.0 / sum), 0.0f);
      break;
    }
    case SoftmaxOp::log_softmax_forward:
    case SoftmaxOp::cross_entropy_forward: {
      const float m = row_max<V>(x, n);
      row_log_normalize<V>(x, out, n, m, float(std::log(row_exp_sum<V>(x, n, m))));
      if (a.op == SoftmaxOp::cross_entropy_forward) {
        // loss = -(1 - eps) lp[t] - eps / C sum lp
        const double eps = a.label_smoothing;
        double loss = -(1.0 - eps) * double(out[a.target[r]]);
        if (eps != 0.0) loss -= eps / double(n) * row_sum<V>(out, n);
        a.loss[r] = float(loss);
      }
      break;
    }
    case SoftmaxOp::softmax_backward:
      row_backward<V, false>(a.dy + r * n, x, out, n, float(row_dot<V>(a.dy + r * n, x, n)));
      break;
    case SoftmaxOp::log_softmax_backward:
      row_backward<V, true>(a.dy + r * n, x, out, n, float(row_sum<V>(a.dy + r * n, n)));
      break;
    case SoftmaxOp::cross_entropy_backward: {
      // dlogits = dloss (softmax - (1 - eps) onehot(t) - eps / C)
      const float g = a.dloss[r], eps = a.label_smoothing;
      const typename V::reg gv = V::set1(g), off = V::set1(eps / float(n));
      row_loop<V>(n, [&](int64_t i, int cnt) {
        store_n<V>(out + i, V::mul(gv, V::sub(simd::vexp<V>(load_n<V>(x + i, cnt)), off)), cnt);
      });
      out[a.target[r]] -= g * (1.0f - eps);
      break;
    }
  }
}

// ---- strided: cnt lanes of `inner` at a time, walking the axis with stride inner ----

template <class V>
void softmax_columns(const SoftmaxArgs& a, int64_t o, int64_t j, int cnt) {
  using reg = typename V::reg;
  const int64_t n = a.len, st = a.inner, base = o * n * st + j;
  const float* x = a.in + base;
  float* out = a.out + base;
  auto ld = [cnt](const float* p) { return load_n<V>(p, cnt); };
  auto put = [cnt](float* p, reg v) { store_n<V>(p, v, cnt); };
  switch (a.op) {
    case SoftmaxOp::softmax_forward:
    case SoftmaxOp::log_softmax_forward: {
      reg m = ld(x);
      for (int64_t l = 1; l < n; ++l) m = V::max(m, ld(x + l * st));
      reg sum = V::zero();
      const bool log = a.op == SoftmaxOp::log_softmax_forward;
      for (int64_t l = 0; l < n; ++l) {
        reg e = simd::vexp<V>(V::sub(ld(x + l * st), m));
        sum = V::add(sum, e);
        if (!log) put(out + l * st, e);
      }
      if (log) {
        reg log_sum = simd::vlog<V>(sum);
        for (int64_t l = 0; l < n; ++l) put(out + l * st, V::sub(V::sub(ld(x + l * st), m), log_sum));
      } else {
        reg inv = V::div(V::set1(1.0f), sum);
        for (int64_t l = 0; l < n; ++l) put(out + l * st, V::mul(ld(out + l * st), inv));
      }
      break;
    }
    case SoftmaxOp::softmax_backward:
    case SoftmaxOp::log_softmax_backward: {
      const float* dy = a.dy + base;
      const bool log = a.op == SoftmaxOp::log_softmax_backward;
      reg s = V::zero();
      for (int64_t l = 0; l < n; ++l)
        s = log ? V::add(s, ld(dy + l * st)) : V::fmadd(ld(dy + l * st), ld(x + l * st), s);
      for (int64_t l = 0; l < n; ++l) {
        reg g = ld(dy + l * st), y = ld(x + l * st);
        put(out + l * st, log ? V::fnmadd(simd::vexp<V>(y), s, g) : V::mul(y, V::sub(g, s)));
      }
      break;
    }
    default:
      break;  // cross entropy is always (N, C): rows
  }
}

// The two algorithms, separate registry entries per ISA (softmax.cpp):
// rows (the axis innermost, inner == 1: one contiguous row per task) and
// strided (W lanes of `inner` at a time, walking the axis with stride inner).
template <class V>
int softmax_threads(const SoftmaxArgs& a) {
  return threads_for(a.outer * a.len * a.inner, kMinElementsPerThread / 4);  // exp: more work per float
}

template <class V>
void softmax_rows_kernel(const SoftmaxArgs& a) {
  const int nt = softmax_threads<V>(a);
  parallel_each(a.outer, nt, [&](int64_t r) { softmax_row<V>(a, r); });
}

template <class V>
void softmax_strided_kernel(const SoftmaxArgs& a) {
  if (a.inner == 1) return softmax_rows_kernel<V>(a);  // cross entropy and last-axis calls forced here
  constexpr int W = V::width;
  const int nt = softmax_threads<V>(a);
  const int64_t blocks = (a.inner + W - 1) / W;
  parallel_each(a.outer * blocks, nt, [&](int64_t it) {
    const int64_t o = it / blocks, j = (it % blocks) * W;
    softmax_columns<V>(a, o, j, a.inner - j >= W ? W : int(a.inner - j));
  });
}

template <class V>
void softmax_kernel(const SoftmaxArgs& a) {
  softmax_strided_kernel<V>(a);
}

}  // namespace
}  // namespace dlcore
