// Recurrent layer kernels over the vector type V (simd::Scalar for the
// reference, simd::Avx2, simd::Avx512). Include only from recurrent.cpp /
// recurrent_avx2.cpp / recurrent_avx512.cpp (anonymous namespace: one copy
// per ISA). The per-step products run on the same ISA's GEMM micro-kernel
// (StepProduct), so backend="ref" is the reference all the way down.
//
// Each cell's equations are one function over V, called for full vectors and
// for the remainder of a row (count < width), so the reference and the SIMD
// bodies share them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "core/simd.h"
#include "core/simd_math.h"
#include "ops/recurrent/recurrent.h"
#include "ops/recurrent/step_product.h"

namespace dlcore {
namespace {

// One step's pointers: row n of each operand is base + n * ld.
struct StepView {
  const float* gx;      // (N, G*H) this step's input projection    [forward]
  const float* gh;      // (N, G*H) h_prev W_hh^T                    [forward]
  const float* bias;    // (G*H,) b_hh (zeros without one)           [forward]
  const float* h_prev;  // (N, ld_hc) h before this step
  const float* c_prev;  // (N, ld_hc) c before this step (LSTM)
  int64_t ld_prev;
  float* out;         // (N, out_cols) this step's [h | c]; read in backward
  float* gates;       // (N, 4H) saved gates
  const float* dout;  // (N, out_cols)                              [backward]
  float* dh;          // (N, H) in: dL/dh from later steps; out: the direct-path part (GRU)
  float* dc;          // (N, H) in/out: dL/dc (LSTM)
  float* d_gx;        // (N, G*H)
  float* d_gh;        // (N, G*H) (GRU)
};

template <class V>
struct Lanes {
  using reg = typename V::reg;
  int64_t j;
  int count;
  DLCORE_INLINE reg load(const float* p) const {
    return count == V::width ? V::load(p + j) : V::load_partial(p + j, count);
  }
  DLCORE_INLINE void store(float* p, reg v) const {
    count == V::width ? V::store(p + j, v) : V::store_partial(p + j, v, count);
  }
};

// ---- forward cells: columns [j, j + count) of row n ----
template <class V>
DLCORE_INLINE void rnn_forward_cells(const StepView& s, int64_t n, int64_t H, int64_t G, bool relu, Lanes<V> l) {
  const int64_t GH = G * H;
  const auto x = V::add(l.load(s.gx + n * GH), V::add(l.load(s.gh + n * GH), l.load(s.bias)));
  l.store(s.out + n * H, relu ? V::max(x, V::zero()) : simd::vtanh<V>(x));
}

// i, f, g, o = sig, sig, tanh, sig of gx + gh; c = f c_prev + i g; h = o tanh(c).
template <class V>
DLCORE_INLINE void lstm_forward_cells(const StepView& s, int64_t n, int64_t H, Lanes<V> l) {
  const float* gx = s.gx + n * 4 * H;
  const float* gh = s.gh + n * 4 * H;
  const float* b = s.bias;
  float* sv = s.gates + n * 4 * H;
  auto pre = [&](int64_t q) { return V::add(l.load(gx + q), V::add(l.load(gh + q), l.load(b + q))); };
  const auto i = simd::vsigmoid<V>(pre(0));
  const auto f = simd::vsigmoid<V>(pre(H));
  const auto g = simd::vtanh<V>(pre(2 * H));
  const auto o = simd::vsigmoid<V>(pre(3 * H));
  const auto c = V::fmadd(f, l.load(s.c_prev + n * s.ld_prev), V::mul(i, g));
  l.store(s.out + n * 2 * H, V::mul(o, simd::vtanh<V>(c)));
  l.store(s.out + n * 2 * H + H, c);
  l.store(sv, i);
  l.store(sv + H, f);
  l.store(sv + 2 * H, g);
  l.store(sv + 3 * H, o);
}

// r, z = sig of gx + gh; n = tanh(gx_n + r gh_n); h = (1 - z) n + z h_prev = n + z (h_prev - n).
template <class V>
DLCORE_INLINE void gru_forward_cells(const StepView& s, int64_t n, int64_t H, Lanes<V> l) {
  const float* gx = s.gx + n * 3 * H;
  const float* gh = s.gh + n * 3 * H;
  const float* b = s.bias;
  float* sv = s.gates + n * 4 * H;
  const auto r = simd::vsigmoid<V>(V::add(l.load(gx), V::add(l.load(gh), l.load(b))));
  const auto z = simd::vsigmoid<V>(V::add(l.load(gx + H), V::add(l.load(gh + H), l.load(b + H))));
  const auto hn = V::add(l.load(gh + 2 * H), l.load(b + 2 * H));
  const auto cand = simd::vtanh<V>(V::fmadd(r, hn, l.load(gx + 2 * H)));
  const auto h_prev = l.load(s.h_prev + n * s.ld_prev);
  l.store(s.out + n * H, V::fmadd(z, V::sub(h_prev, cand), cand));
  l.store(sv, r);
  l.store(sv + H, z);
  l.store(sv + 2 * H, cand);
  l.store(sv + 3 * H, hn);
}

// ---- backward cells (the derivatives of the forward cells above) ----
template <class V>
DLCORE_INLINE void rnn_backward_cells(const StepView& s, int64_t n, int64_t H, bool relu, Lanes<V> l) {
  const auto dh = V::add(l.load(s.dh + n * H), l.load(s.dout + n * H));
  const auto h = l.load(s.out + n * H);
  const auto d = relu ? V::select(V::cmp_gt(h, V::zero()), dh, V::zero()) : V::mul(dh, V::fnmadd(h, h, V::set1(1.0f)));
  l.store(s.d_gx + n * H, d);
}

template <class V>
DLCORE_INLINE void lstm_backward_cells(const StepView& s, int64_t n, int64_t H, Lanes<V> l) {
  const auto one = V::set1(1.0f);
  const float* sv = s.gates + n * 4 * H;
  const float* dout = s.dout + n * 2 * H;
  const auto i = l.load(sv), f = l.load(sv + H), g = l.load(sv + 2 * H), o = l.load(sv + 3 * H);
  const auto tc = simd::vtanh<V>(l.load(s.out + n * 2 * H + H));  // recomputed: bitwise forward's tanh(c)
  const auto dh = V::add(l.load(s.dh + n * H), l.load(dout));
  auto dc = V::add(l.load(s.dc + n * H), l.load(dout + H));
  dc = V::fmadd(V::mul(dh, o), V::fnmadd(tc, tc, one), dc);
  float* d = s.d_gx + n * 4 * H;
  l.store(d, V::mul(V::mul(dc, g), V::mul(i, V::sub(one, i))));
  l.store(d + H, V::mul(V::mul(dc, l.load(s.c_prev + n * s.ld_prev)), V::mul(f, V::sub(one, f))));
  l.store(d + 2 * H, V::mul(V::mul(dc, i), V::fnmadd(g, g, one)));
  l.store(d + 3 * H, V::mul(V::mul(dh, tc), V::mul(o, V::sub(one, o))));
  l.store(s.dc + n * H, V::mul(dc, f));
}

// Writes d gx, d gh and the direct path's dh z into dh (the GEMM adds d gh W_hh to it).
template <class V>
DLCORE_INLINE void gru_backward_cells(const StepView& s, int64_t n, int64_t H, Lanes<V> l) {
  const auto one = V::set1(1.0f);
  const float* sv = s.gates + n * 4 * H;
  const auto r = l.load(sv), z = l.load(sv + H), cand = l.load(sv + 2 * H), hn = l.load(sv + 3 * H);
  const auto dh = V::add(l.load(s.dh + n * H), l.load(s.dout + n * H));
  const auto h_prev = l.load(s.h_prev + n * s.ld_prev);
  const auto d_cand = V::mul(V::mul(dh, V::sub(one, z)), V::fnmadd(cand, cand, one));
  const auto d_r = V::mul(V::mul(d_cand, hn), V::mul(r, V::sub(one, r)));
  const auto d_z = V::mul(V::mul(dh, V::sub(h_prev, cand)), V::mul(z, V::sub(one, z)));
  float* dx = s.d_gx + n * 3 * H;
  float* dg = s.d_gh + n * 3 * H;
  l.store(dx, d_r);
  l.store(dx + H, d_z);
  l.store(dx + 2 * H, d_cand);
  l.store(dg, d_r);
  l.store(dg + H, d_z);
  l.store(dg + 2 * H, V::mul(d_cand, r));
  l.store(s.dh + n * H, V::mul(dh, z));
}

template <class V, class Cell>
DLCORE_INLINE void each_row_lanes(int64_t r0, int64_t r1, int64_t H, Cell&& cell) {
  for (int64_t n = r0; n < r1; ++n) {
    int64_t j = 0;
    for (; j + V::width <= H; j += V::width) cell(n, Lanes<V>{j, V::width});
    if (j < H) cell(n, Lanes<V>{j, int(H - j)});
  }
}

// The cell pass of one step over all N rows, split by rows over the threads
// when the step touches enough memory (element-wise: any split, same bits).
template <class V>
void cell_pass(const RecurrentArgs& a, const StepView& s, bool backward) {
  const RnnGeometry& g = a.geo;
  const int64_t H = g.hidden, N = g.batch;
  // the memory one step's pass touches (LSTM/GRU: ~14 floats a cell: gx, gh, bias, gates, states, out)
  const int64_t bytes = N * H * 4 * (g.mode == RnnMode::lstm || g.mode == RnnMode::gru ? 14 : 4);
  parallel_units(N, bytes, [&](int64_t r0, int64_t r1) {
    switch (g.mode) {
      case RnnMode::rnn_tanh:
      case RnnMode::rnn_relu: {
        const bool relu = g.mode == RnnMode::rnn_relu;
        if (backward)
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { rnn_backward_cells<V>(s, n, H, relu, l); });
        else
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { rnn_forward_cells<V>(s, n, H, 1, relu, l); });
        break;
      }
      case RnnMode::lstm:
        if (backward)
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { lstm_backward_cells<V>(s, n, H, l); });
        else
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { lstm_forward_cells<V>(s, n, H, l); });
        break;
      case RnnMode::gru:
        if (backward)
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { gru_backward_cells<V>(s, n, H, l); });
        else
          each_row_lanes<V>(r0, r1, H, [&](int64_t n, Lanes<V> l) { gru_forward_cells<V>(s, n, H, l); });
        break;
    }
  });
}

// The state before step t (in time order t_prev = t -+ 1): (h, c, ld) from out, or h0/c0 at the first step.
struct PrevState {
  const float *h, *c;
  int64_t ld;
};
inline PrevState prev_state(const RecurrentArgs& a, const float* out, int64_t t) {
  const RnnGeometry& g = a.geo;
  const int64_t tp = a.reverse ? t + 1 : t - 1;
  if (tp < 0 || tp >= g.steps) return {a.h0, a.c0, g.hidden};
  const float* o = out + tp * g.batch * g.out_cols();
  return {o, o + g.hidden, g.out_cols()};
}

template <class V>
void recurrent_forward_kernel(const RecurrentArgs& a, Isa isa) {
  const RnnGeometry& g = a.geo;
  const int64_t N = g.batch, H = g.hidden, GH = g.gates * H, oc = g.out_cols();
  if (g.steps == 0 || N == 0) return;
  std::vector<float> gh(size_t(N * GH));
  const std::vector<float> no_bias(a.b_hh ? 0 : size_t(GH), 0.0f);
  StepProduct hidden_product(isa, a.w_hh, H, /*trans=*/true, H, GH);  // h W_hh^T
  for (int64_t s = 0; s < g.steps; ++s) {
    const int64_t t = a.reverse ? g.steps - 1 - s : s;
    const PrevState p = prev_state(a, a.out, t);
    hidden_product.run(p.h, p.ld, N, gh.data(), GH, 0.0f);
    StepView v{};
    v.gx = a.gx + t * N * GH, v.gh = gh.data(), v.bias = a.b_hh ? a.b_hh : no_bias.data(), v.h_prev = p.h,
    v.c_prev = p.c, v.ld_prev = p.ld;
    v.out = a.out + t * N * oc;
    v.gates = a.gates ? a.gates + t * N * 4 * H : nullptr;
    cell_pass<V>(a, v, false);
  }
}

template <class V>
void recurrent_backward_kernel(const RecurrentArgs& a, Isa isa) {
  const RnnGeometry& g = a.geo;
  const int64_t N = g.batch, H = g.hidden, GH = g.gates * H, oc = g.out_cols();
  float* dh = a.dh0;  // the running dL/dh (then dh0), and dL/dc (then dc0)
  float* dc = a.dc0;
  std::fill(dh, dh + N * H, 0.0f);
  if (dc) std::fill(dc, dc + N * H, 0.0f);
  if (g.steps == 0 || N == 0) return;
  const bool gru = g.mode == RnnMode::gru;
  StepProduct hidden_product(isa, a.w_hh, H, /*trans=*/false, GH, H);  // d gh W_hh
  for (int64_t s = 0; s < g.steps; ++s) {
    const int64_t t = a.reverse ? s : g.steps - 1 - s;  // forward's order, reversed
    const PrevState p = prev_state(a, a.out_saved, t);
    StepView v{};
    v.h_prev = p.h, v.c_prev = p.c, v.ld_prev = p.ld;
    v.out = const_cast<float*>(a.out_saved + t * N * oc);  // read only in backward
    v.gates = a.gates_saved ? const_cast<float*>(a.gates_saved + t * N * 4 * H) : nullptr;
    v.dout = a.dout + t * N * oc;
    v.dh = dh, v.dc = dc;
    v.d_gx = a.d_gx + t * N * GH;
    v.d_gh = gru ? a.d_gh + t * N * GH : v.d_gx;
    cell_pass<V>(a, v, true);
    hidden_product.run(v.d_gh, GH, N, dh, H, gru ? 1.0f : 0.0f);  // + the GRU's direct path dh z already in dh
  }
}

}  // namespace
}  // namespace dlcore
