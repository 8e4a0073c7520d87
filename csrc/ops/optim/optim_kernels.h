// Fused optimizer step kernels over the vector type V. Include only from
// optim.cpp / optim_avx2.cpp / optim_avx512.cpp (anonymous namespace: one
// copy per ISA). Each element's update is one small function over V, so the
// reference (simd::Scalar), the vector bodies and the remainders share it.
#pragma once
#include <cstdint>
#include <vector>

#include "core/pool.h"
#include "core/simd.h"
#include "core/threads.h"
#include "ops/optim/optim.h"

namespace dlcore {
namespace {

// Elements per tile. 16K floats = 64 KiB per stream (3-4 streams fit in L2);
// a tile is a few microseconds of work, so a descheduled thread delays one
// tile, not the step.
constexpr int64_t kOptimTile = 16 * 1024;
// Below this many elements in all, one thread: waking the second costs more
// than it saves (the eltwise families measured 32K floats per thread).
constexpr int64_t kOptimMinPerThread = 32 * 1024;

// g + wd * p + l1 * sign(p) (sign(0) = 0), the regularized gradient.
template <class V>
DLCORE_INLINE typename V::reg regularized(const OptimArgs& a, typename V::reg g, typename V::reg p, bool l2) {
  if (l2 && a.weight_decay != 0.0f) g = V::fmadd(V::set1(a.weight_decay), p, g);
  if (a.l1 != 0.0f) {
    const typename V::reg one = V::set1(1.0f), zero = V::zero();
    const typename V::reg sign =
        V::select(V::cmp_gt(p, zero), one, V::select(V::cmp_lt(p, zero), V::sub(zero, one), zero));
    g = V::fmadd(V::set1(a.l1), sign, g);
  }
  return g;
}

// SGD: g' = g + wd p; buf = fresh ? g' : momentum buf + (1 - dampening) g';
// step = nesterov ? g' + momentum buf : buf; p -= lr step.
template <class V>
DLCORE_INLINE void sgd_elements(const OptimArgs& a, const OptimTensor& t, int64_t i, int count) {
  using reg = typename V::reg;
  const bool full = count == V::width;
  auto load = [&](const float* x) { return full ? V::load(x + i) : V::load_partial(x + i, count); };
  auto store = [&](float* x, reg v) { full ? V::store(x + i, v) : V::store_partial(x + i, v, count); };
  const reg p = load(t.p);
  reg g = regularized<V>(a, load(t.g), p, true);
  if (a.momentum != 0.0f) {
    const reg m = V::set1(a.momentum);
    const reg buf = t.fresh ? g : V::fmadd(m, load(t.s1), V::mul(V::set1(1.0f - a.dampening), g));
    store(t.s1, buf);
    g = a.nesterov ? V::fmadd(m, buf, g) : buf;
  }
  store(t.p, V::fmadd(V::set1(-a.lr), g, p));
}

// Adam(W): [AdamW: p *= 1 - lr wd | Adam: g += wd p]; m = b1 m + (1-b1) g;
// v = b2 v + (1-b2) g^2; p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
template <class V>
DLCORE_INLINE void adam_elements(const OptimArgs& a, const OptimTensor& t, int64_t i, int count) {
  using reg = typename V::reg;
  const bool full = count == V::width;
  auto load = [&](const float* x) { return full ? V::load(x + i) : V::load_partial(x + i, count); };
  auto store = [&](float* x, reg v) { full ? V::store(x + i, v) : V::store_partial(x + i, v, count); };
  reg p = load(t.p);
  const reg g = regularized<V>(a, load(t.g), p, !a.decoupled);
  if (a.decoupled && a.weight_decay != 0.0f) p = V::mul(p, V::set1(1.0f - a.lr * a.weight_decay));
  const reg m = V::fmadd(V::set1(a.beta1), load(t.s1), V::mul(V::set1(1.0f - a.beta1), g));
  const reg v = V::fmadd(V::set1(a.beta2), load(t.s2), V::mul(V::set1(1.0f - a.beta2), V::mul(g, g)));
  store(t.s1, m);
  store(t.s2, v);
  const reg denom = V::fmadd(V::sqrt(v), V::set1(t.inv_sqrt_bc2), V::set1(a.eps));
  store(t.p, V::fmadd(V::set1(-t.step_size), V::div(m, denom), p));
}

// Adadelta: g += wd p; v = rho v + (1-rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) g;
// u = rho u + (1-rho) d^2; p -= lr d.
template <class V>
DLCORE_INLINE void adadelta_elements(const OptimArgs& a, const OptimTensor& t, int64_t i, int count) {
  using reg = typename V::reg;
  const bool full = count == V::width;
  auto load = [&](const float* x) { return full ? V::load(x + i) : V::load_partial(x + i, count); };
  auto store = [&](float* x, reg v) { full ? V::store(x + i, v) : V::store_partial(x + i, v, count); };
  const reg p = load(t.p);
  const reg g = regularized<V>(a, load(t.g), p, true);
  const reg rho = V::set1(a.beta1), one_minus = V::set1(1.0f - a.beta1), eps = V::set1(a.eps);
  const reg v = V::fmadd(rho, load(t.s1), V::mul(one_minus, V::mul(g, g)));
  const reg u = load(t.s2);
  const reg d = V::mul(V::div(V::sqrt(V::add(u, eps)), V::sqrt(V::add(v, eps))), g);
  store(t.s1, v);
  store(t.s2, V::fmadd(rho, u, V::mul(one_minus, V::mul(d, d))));
  store(t.p, V::fmadd(V::set1(-a.lr), d, p));
}

template <class V, void (*Elements)(const OptimArgs&, const OptimTensor&, int64_t, int)>
void optim_range(const OptimArgs& a, const OptimTensor& t, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + V::width <= end; i += V::width) Elements(a, t, i, V::width);
  if (i < end) Elements(a, t, i, int(end - i));
}

// Every parameter cut into tiles of kOptimTile elements, the tiles of all
// parameters handed out from one list by the tile pool.
template <class V, void (*Elements)(const OptimArgs&, const OptimTensor&, int64_t, int)>
void optim_run(const OptimArgs& a) {
  struct Tile {
    int tensor;
    int64_t begin, end;
  };
  std::vector<Tile> tiles;
  int64_t total = 0;
  for (size_t k = 0; k < a.tensors.size(); ++k) {
    const int64_t n = a.tensors[k].n;
    total += n;
    for (int64_t b = 0; b < n; b += kOptimTile) tiles.push_back({int(k), b, b + kOptimTile < n ? b + kOptimTile : n});
  }
  int64_t useful = total / kOptimMinPerThread;
  const int nt = int(useful < 1 ? 1 : (useful < get_num_threads() ? useful : get_num_threads()));
  parallel_tiles(int64_t(tiles.size()), nt, [&](int64_t i) {
    const Tile& tile = tiles[size_t(i)];
    optim_range<V, Elements>(a, a.tensors[size_t(tile.tensor)], tile.begin, tile.end);
  });
}

template <class V>
void optim_kernel(const OptimArgs& a) {
  switch (a.kind) {
    case OptimKind::sgd:
      return optim_run<V, sgd_elements<V>>(a);
    case OptimKind::adam:
      return optim_run<V, adam_elements<V>>(a);
    case OptimKind::adadelta:
      return optim_run<V, adadelta_elements<V>>(a);
  }
}

}  // namespace
}  // namespace dlcore
