// Batch-normalization kernels over the vector type V. Include only from
// norm.cpp / norm_avx2.cpp / norm_avx512.cpp (anonymous namespace: one copy
// per ISA).
//
// Layout: channel c of x (n, c, s) is n segments of s contiguous floats.
// s > 1 ("planes"): threads split the channels; each channel's segments are
// vectorized along s. s == 1 ((N, C) input, "rows"): vectors run across
// channels, threads split channel blocks.
//
// Numerics: variance by two passes (mean, then the sum of squared
// deviations; no E[x^2] - E[x]^2 cancellation). Each segment (or block of
// 256 rows) is summed in float vector lanes, and those partial sums are
// accumulated in double, so long channels lose nothing to float rounding.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/simd.h"
#include "ops/eltwise/loops.h"
#include "ops/norm/norm.h"

namespace dlcore {
namespace {

constexpr int64_t kRowsPerFlush = 64;  // rows summed in float before moving to double
// Floats of one segment summed in float vector lanes before moving to double:
// short enough that even the width-1 reference keeps ~1e-7 relative accuracy.
constexpr int64_t kSegmentChunk = 512;

// ---- per-channel sums, planes layout (s > 1) ----

// Sum over the channel's n segments of f(x) (Centered: (x - m)^2), or with
// `dy`: sum dy and sum dy (x - m) at once.
template <class V, bool Centered>
double plane_sum(const float* x, int64_t n, int64_t seg_stride, int64_t s, float m) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const reg mv = V::set1(m);
  float m_lanes[W];
  for (int k = 0; k < W; ++k) m_lanes[k] = m;
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c0 = 0; c0 < s; c0 += kSegmentChunk) {
      const float* p = x + i * seg_stride + c0;
      const int64_t len = s - c0 < kSegmentChunk ? s - c0 : kSegmentChunk;
      reg acc0 = V::zero(), acc1 = V::zero();
      int64_t j = 0;
      for (; j + 2 * W <= len; j += 2 * W) {
        reg a = V::load(p + j), b = V::load(p + j + W);
        if (Centered) {
          a = V::sub(a, mv);
          b = V::sub(b, mv);
          acc0 = V::fmadd(a, a, acc0);
          acc1 = V::fmadd(b, b, acc1);
        } else {
          acc0 = V::add(acc0, a);
          acc1 = V::add(acc1, b);
        }
      }
      for (; j < len; j += W) {
        const int cnt = len - j >= W ? W : int(len - j);
        reg a = V::load_partial(p + j, cnt);
        if (Centered) {
          // Masked-off lanes read 0 and must stay 0: subtract m only in live lanes.
          a = V::sub(a, V::load_partial(m_lanes, cnt));
          acc0 = V::fmadd(a, a, acc0);
        } else {
          acc0 = V::add(acc0, a);
        }
      }
      total += double(V::reduce_add(V::add(acc0, acc1)));
    }
  return total;
}

template <class V>
void plane_dot(const float* dy, const float* x, int64_t n, int64_t seg_stride, int64_t s, float m, double* sum_dy,
               double* sum_dy_xc) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const reg mv = V::set1(m);
  double t_dy = 0.0, t_dyx = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c0 = 0; c0 < s; c0 += kSegmentChunk) {
      const float* g = dy + i * seg_stride + c0;
      const float* p = x + i * seg_stride + c0;
      const int64_t len = s - c0 < kSegmentChunk ? s - c0 : kSegmentChunk;
      reg a_dy = V::zero(), a_dyx = V::zero();
      for (int64_t j = 0; j < len; j += W) {
        const int cnt = len - j >= W ? W : int(len - j);
        reg gv = cnt == W ? V::load(g + j) : V::load_partial(g + j, cnt);  // masked lanes: dy = 0
        reg xv = cnt == W ? V::load(p + j) : V::load_partial(p + j, cnt);
        a_dy = V::add(a_dy, gv);
        a_dyx = V::fmadd(gv, V::sub(xv, mv), a_dyx);
      }
      t_dy += double(V::reduce_add(a_dy));
      t_dyx += double(V::reduce_add(a_dyx));
    }
  *sum_dy = t_dy;
  *sum_dy_xc = t_dyx;
}

// ---- per-channel sums, rows layout (s == 1): channels [c0, c0 + cnt) at once ----

template <class V, bool Centered>
void rows_sum(const float* x, int64_t n, int64_t c, int64_t c0, int cnt, const float* mean, double* out) {
  using reg = typename V::reg;
  const reg mv = Centered ? V::load_partial(mean + c0, cnt) : V::zero();
  double total[V::width] = {};
  for (int64_t r0 = 0; r0 < n; r0 += kRowsPerFlush) {
    const int64_t r1 = r0 + kRowsPerFlush < n ? r0 + kRowsPerFlush : n;
    reg acc = V::zero();
    for (int64_t r = r0; r < r1; ++r) {
      reg v = V::load_partial(x + r * c + c0, cnt);
      if (Centered) {
        v = V::sub(v, mv);
        acc = V::fmadd(v, v, acc);
      } else {
        acc = V::add(acc, v);
      }
    }
    float lanes[V::width];
    V::store(lanes, acc);
    for (int k = 0; k < cnt; ++k) total[k] += double(lanes[k]);
  }
  for (int k = 0; k < cnt; ++k) out[c0 + k] = total[k];
}

template <class V>
void rows_dot(const float* dy, const float* x, int64_t n, int64_t c, int64_t c0, int cnt, const float* mean,
              double* sum_dy, double* sum_dy_xc) {
  using reg = typename V::reg;
  const reg mv = V::load_partial(mean + c0, cnt);
  double t_dy[V::width] = {}, t_dyx[V::width] = {};
  for (int64_t r0 = 0; r0 < n; r0 += kRowsPerFlush) {
    const int64_t r1 = r0 + kRowsPerFlush < n ? r0 + kRowsPerFlush : n;
    reg a_dy = V::zero(), a_dyx = V::zero();
    for (int64_t r = r0; r < r1; ++r) {
      reg g = V::load_partial(dy + r * c + c0, cnt);
      reg v = V::load_partial(x + r * c + c0, cnt);
      a_dy = V::add(a_dy, g);
      a_dyx = V::fmadd(g, V::sub(v, mv), a_dyx);
    }
    float l_dy[V::width], l_dyx[V::width];
    V::store(l_dy, a_dy);
    V::store(l_dyx, a_dyx);
    for (int k = 0; k < cnt; ++k) {
      t_dy[k] += double(l_dy[k]);
      t_dyx[k] += double(l_dyx[k]);
    }
  }
  for (int k = 0; k < cnt; ++k) {
    sum_dy[c0 + k] = t_dy[k];
    sum_dy_xc[c0 + k] = t_dyx[k];
  }
}

// ---- the per-channel affine passes ----

// Within channel c: out = a[c] (u - m[c]) + k[c] (unary), or
// out = a[c] u + b[c] (v - m[c]) + k[c] (binary). Subtracting the mean
// before scaling keeps full precision when |mean| >> std (folding it into
// the constant would cancel).
template <class V>
struct CenteredAffine {
  static constexpr bool binary = false;
  typename V::reg a, m, k;
  DLCORE_INLINE typename V::reg operator()(typename V::reg u, typename V::reg) const {
    return V::fmadd(V::sub(u, m), a, k);
  }
};

template <class V>
struct CenteredAffine2 {
  static constexpr bool binary = true;
  typename V::reg a, b, m, k;
  DLCORE_INLINE typename V::reg operator()(typename V::reg u, typename V::reg v) const {
    return V::fmadd(u, a, V::fmadd(V::sub(v, m), b, k));
  }
};

// Lanes [0, n) set.
template <class V>
DLCORE_INLINE typename V::cmask first_lanes(int n) {
  alignas(64) static constexpr int32_t kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return V::icmp_gt(V::iset1(n), V::iload(kIota));
}

// out[i] = f_p(u[i]) (or f_p(u[i], v[i])) over the flat range [begin, end) of
// the (n*c) planes of s floats, f_p = make(p) being plane p's functor.
//
// The loop walks the flat range rather than plane by plane so that the
// output alignment is fixed once per thread: with planes of 784 floats
// (bn3a_branch1) and an output 16 bytes off a 32-byte boundary (malloc
// gives 16), peeling every plane with masked stores and mixing them with
// non-temporal stores on the same cache lines halved the speed (9 vs 17
// GB/s, 1 thread). Here every store after the head is a full aligned
// vector; the vector that straddles two (or, for tiny planes, more) planes
// blends their functors lane by lane.
template <class V, class Make>
void planes_range(const Make& make, const float* u, const float* v, float* out, int64_t s, int64_t begin, int64_t end,
                  bool stream) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  using F = decltype(make(int64_t(0)));
  auto value = [&](const F& f, int64_t i, int n) -> reg {
    const reg x = n == W ? V::load(u + i) : V::load_partial(u + i, n);
    if constexpr (F::binary) {
      return f(x, n == W ? V::load(v + i) : V::load_partial(v + i, n));
    } else {
      return f(x, x);
    }
  };
  // n live lanes from i, whatever planes they span.
  auto blended = [&](int64_t i, int n) -> reg {
    int64_t p = i / s;
    reg y = value(make(p), i, n);
    for (int64_t e = (p + 1) * s; e < i + n; e += s)
      y = V::select(first_lanes<V>(int(e - i)), y, value(make(++p), i, n));
    return y;
  };
  auto put = [&](float* q, reg y) { stream ? V::stream(q, y) : V::store(q, y); };
  // The inputs of one full vector (b unused by unary functors).
  struct In {
    reg a, b;
  };
  auto load_in = [&](int64_t i) -> In {
    if constexpr (F::binary) {
      return {V::load(u + i), V::load(v + i)};
    } else {
      return {V::load(u + i), V::zero()};
    }
  };
  int64_t i = begin;
  // Head: up to the output's vector alignment, once per thread (always, not
  // only when streaming, so that the small shapes of the tests run it too).
  if (W > 1) {
    const int misaligned = int(reinterpret_cast<uintptr_t>(out + i) / sizeof(float) % W);
    const int n = int(std::min<int64_t>(misaligned ? W - misaligned : 0, end - i));
    if (n) V::store_partial(out + i, blended(i, n), n);
    i += n;
  }
  while (end - i >= W) {
    const int64_t p = i / s, plane_end = std::min((p + 1) * s, end);
    if (plane_end - i >= W) {
      // Each vector's inputs are loaded before the previous vector is stored,
      // so loads run two vectors ahead of every store. The output is often
      // allocated right behind the input (y = x + size + 16 bytes, size a
      // multiple of 4 KiB): then a load one vector past the last store
      // matches it in address bits 0-11 and partly overlaps it, and waits
      // for it (4K aliasing). bn2a_branch2a, 1 thread, y right after x: 5.6
      // GB/s before, see the commit for after.
      const F f = make(p);
      In next = load_in(i);
      for (; i + 2 * W <= plane_end; i += W) {
        const In cur = next;
        next = load_in(i + W);
        put(out + i, f(cur.a, cur.b));
      }
      put(out + i, f(next.a, next.b));
      i += W;
    }
    if (end - i >= W) {  // the vector across the plane boundary
      put(out + i, blended(i, W));
      i += W;
    }
  }
  if (i < end) V::store_partial(out + i, blended(i, int(end - i)), int(end - i));
}

// The per-channel affine over the whole tensor; v == nullptr selects the
// unary form (b unused).
template <class V>
void channel_affine(const BatchNormArgs& p, const float* u, const float* v, const float* a, const float* b,
                    const float* m, const float* k, float* out) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const int64_t total = p.n * p.c * p.s;
  const int nt = threads_for(total, kMinElementsPerThread);
  const bool stream = total * int64_t(sizeof(float)) >= kStreamMinBytes;
  if (p.s == 1) {  // (N, C): vectors across the channels of a row
    parallel_each(p.n, nt, [&](int64_t r) {
      const int64_t off = r * p.c;
      for (int64_t j = 0; j < p.c; j += W) {
        const int cnt = p.c - j >= W ? W : int(p.c - j);
        // Masked loads/stores only on the last, partial vector: masked stores
        // are microcoded on AMD cores.
        auto ld = [=](const float* q) { return cnt == W ? V::load(q) : V::load_partial(q, cnt); };
        reg y;
        if (v) {
          reg vc = V::sub(ld(v + off + j), ld(m + j));
          y = V::fmadd(vc, ld(b + j), ld(k + j));
          y = V::fmadd(ld(u + off + j), ld(a + j), y);
        } else {
          reg uc = V::sub(ld(u + off + j), ld(m + j));
          y = V::fmadd(uc, ld(a + j), ld(k + j));
        }
        if (cnt == W) {
          V::store(out + off + j, y);
        } else {
          V::store_partial(out + off + j, y, cnt);
        }
      }
    });
    return;
  }
  const int64_t c = p.c;
  auto unary = [=](int64_t plane) {
    const int64_t ch = plane % c;
    return CenteredAffine<V>{V::set1(a[ch]), V::set1(m[ch]), V::set1(k[ch])};
  };
  auto binary = [=](int64_t plane) {
    const int64_t ch = plane % c;
    return CenteredAffine2<V>{V::set1(a[ch]), V::set1(b[ch]), V::set1(m[ch]), V::set1(k[ch])};
  };
  parallel_aligned(total, nt, 16, [&](int64_t begin, int64_t end) {
    if (v) {
      planes_range<V>(binary, u, v, out, p.s, begin, end, stream);
    } else {
      planes_range<V>(unary, u, nullptr, out, p.s, begin, end, stream);
    }
    if (stream) V::stream_fence();
  });
}

// ---- the ops ----

// mean, biased var and invstd per channel.
template <class V>
void batch_stats(const BatchNormArgs& p) {
  constexpr int W = V::width;
  const double count = double(p.n) * double(p.s);
  const int nt = threads_for(p.n * p.c * p.s, kMinElementsPerThread);
  if (p.s == 1) {
    std::vector<double> buffer(size_t(p.c), 0.0);  // freed on any exit
    double* sums = buffer.data();
    const int64_t blocks = (p.c + W - 1) / W;
    parallel_each(blocks, nt, [&](int64_t bl) {
      const int64_t c0 = bl * W;
      const int cnt = p.c - c0 >= W ? W : int(p.c - c0);
      rows_sum<V, false>(p.x, p.n, p.c, c0, cnt, nullptr, sums);
      for (int k = 0; k < cnt; ++k) p.mean[c0 + k] = float(sums[c0 + k] / count);
      rows_sum<V, true>(p.x, p.n, p.c, c0, cnt, p.mean, sums);
    });
    for (int64_t ch = 0; ch < p.c; ++ch) p.var[ch] = float(sums[ch] / count);
  } else {
    parallel_each(p.c, nt, [&](int64_t ch) {
      const float* x = p.x + ch * p.s;
      const float m = float(plane_sum<V, false>(x, p.n, p.c * p.s, p.s, 0.0f) / count);
      p.mean[ch] = m;
      p.var[ch] = float(plane_sum<V, true>(x, p.n, p.c * p.s, p.s, m) / count);
    });
  }
  for (int64_t ch = 0; ch < p.c; ++ch) p.invstd[ch] = 1.0f / std::sqrt(p.var[ch] + p.eps);
}

template <class V>
void batch_norm_forward(const BatchNormArgs& p) {
  if (p.op == BatchNormOp::forward_training) batch_stats<V>(p);
  // y = scale (x - mean) + bias per channel.
  std::vector<float> coef(size_t(3 * p.c));
  float *scale = coef.data(), *mean = scale + p.c, *bias = scale + 2 * p.c;
  for (int64_t ch = 0; ch < p.c; ++ch) {
    const bool training = p.op == BatchNormOp::forward_training;
    const float invstd = training ? p.invstd[ch] : 1.0f / std::sqrt(p.running_var[ch] + p.eps);
    scale[ch] = (p.weight ? p.weight[ch] : 1.0f) * invstd;
    mean[ch] = training ? p.mean[ch] : p.running_mean[ch];
    bias[ch] = p.bias ? p.bias[ch] : 0.0f;
  }
  channel_affine<V>(p, p.x, nullptr, scale, nullptr, mean, bias, p.y);
}

// Training-mode gradient, per channel with m = count, xc = x - mean:
//   dbias = sum dy, dweight = invstd * sum dy xc,
//   dx = w invstd (dy - sum dy / m - xc invstd^2 sum(dy xc) / m),
// applied as dx = a dy + b (x - mean) + k with per-channel a, b, k.
template <class V>
void batch_norm_backward(const BatchNormArgs& p) {
  constexpr int W = V::width;
  const double count = double(p.n) * double(p.s);
  const int nt = threads_for(p.n * p.c * p.s, kMinElementsPerThread);
  std::vector<double> sums(size_t(2 * p.c));
  double *sum_dy = sums.data(), *sum_dyx = sum_dy + p.c;
  if (p.s == 1) {
    const int64_t blocks = (p.c + W - 1) / W;
    parallel_each(blocks, nt, [&](int64_t bl) {
      const int64_t c0 = bl * W;
      rows_dot<V>(p.dy, p.x, p.n, p.c, c0, p.c - c0 >= W ? W : int(p.c - c0), p.mean, sum_dy, sum_dyx);
    });
  } else {
    parallel_each(p.c, nt, [&](int64_t ch) {
      plane_dot<V>(p.dy + ch * p.s, p.x + ch * p.s, p.n, p.c * p.s, p.s, p.mean[ch], &sum_dy[ch], &sum_dyx[ch]);
    });
  }
  std::vector<float> coef(size_t(3 * p.c));
  float *a = coef.data(), *b = a + p.c, *k = a + 2 * p.c;
  for (int64_t ch = 0; ch < p.c; ++ch) {
    const double w = p.weight ? p.weight[ch] : 1.0, is = p.invstd[ch];
    const double mean_dy = sum_dy[ch] / count, mean_dyx = sum_dyx[ch] / count;
    a[ch] = float(w * is);
    b[ch] = float(-w * is * is * is * mean_dyx);
    k[ch] = float(-w * is * mean_dy);
    if (p.dbias) p.dbias[ch] = float(sum_dy[ch]);
    if (p.dweight) p.dweight[ch] = float(sum_dyx[ch] * is);
  }
  channel_affine<V>(p, p.dy, p.x, a, b, p.mean, k, p.dx);
}

template <class V>
void batch_norm_kernel(const BatchNormArgs& p) {
  if (p.op == BatchNormOp::backward)
    batch_norm_backward<V>(p);
  else
    batch_norm_forward<V>(p);
}

}  // namespace
}  // namespace dlcore
