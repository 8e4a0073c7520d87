// GEMM loops (BLIS layering): jc over NC columns of C, pc over KC of the
// shared dimension, ic over MC rows; inside, jr/ir over NR x MR micro-tiles.
// Loops, packing and edges live here once; an ISA only adds a micro-kernel
// and a row of block sizes (gemm/ukernel_*.cpp).
#include "gemm/gemm.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/bf16.h"

#include "core/buffer.h"
#include "core/pool.h"
#include "core/threads.h"
#include "gemm/blocksizes.h"

namespace dlcore {
namespace {

constexpr int kMaxMr = 32;  // AMX: 32 x 32
constexpr int kMaxNr = 32;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// C = beta * C over an m x n block (the whole answer when k == 0 or alpha == 0).
void scale_c(float* c, int64_t ldc, int64_t m, int64_t n, float beta) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      std::fill(row, row + n, 0.0f);
    else
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

// One MR x NR tile of C; a partial tile at the edge goes through a buffer so
// the micro-kernel never writes outside C.
template <class Kern, class P>
inline void micro_tile(const Kern& kern, int64_t kc, const P* ap, const P* bp, float* c, int64_t ldc, int rows,
                       int cols, float alpha, float beta) {
  if (rows == kern.mr && cols == kern.nr) {
    kern.ukernel(kc, ap, bp, c, ldc, alpha, beta);
    return;
  }
  alignas(64) float tile[kMaxMr * kMaxNr];
  kern.ukernel(kc, ap, bp, tile, kern.nr, alpha, 0.0f);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      float* cp = c + i * ldc + j;
      float t = tile[i * kern.nr + j];
      *cp = beta == 0.0f ? t : t + beta * *cp;
    }
}

// Work below which a second thread costs more than it saves (fork/join and
// the shared packing barriers): about 2 MFLOP, measured on the gemm report.
constexpr double kMinFlopsPerThread = 2.0e6;

// k rounded up to the packed panels' granularity (1 for float32 panels).
inline int64_t packed_k(const GemmKernel&, int64_t kc) { return kc; }
template <class S, class P>
inline int64_t packed_k(const GemmKernelOf<S, P>& kern, int64_t kc) {
  return round_up(kc, kern.kr);
}

// Per-thread setup around one thread's share of a call (AMX tile config).
inline void thread_begin(const GemmKernel&) {}
inline void thread_end(const GemmKernel&) {}
template <class S, class P>
inline void thread_begin(const GemmKernelOf<S, P>& kern) {
  if (kern.thread_begin) kern.thread_begin();
}
template <class S, class P>
inline void thread_end(const GemmKernelOf<S, P>& kern) {
  if (kern.thread_end) kern.thread_end();
}

// One product on the calling thread: the five BLIS loops over private
// packing buffers (bbuf: kc x nc block of B, abuf: mc x kc block of A).
template <class Kern, class S = typename Kern::src_t, class P = typename Kern::packed_t>
void gemm_serial(const GemmArgs& g, const S* a, const S* b, float* c, int64_t m, int64_t n, const Kern& kern, P* bbuf,
                 P* abuf) {
  const int64_t k = g.k;
  const int mr = kern.mr, nr = kern.nr;
  for (int64_t jc = 0; jc < n; jc += kern.nc) {
    const int64_t nc = std::min<int64_t>(kern.nc, n - jc);
    const int64_t n_panels = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < k; pc += kern.kc) {
      const int64_t kc = std::min<int64_t>(kern.kc, k - pc);
      const int64_t kp = packed_k(kern, kc);  // panel length (kc, or kc padded for K-pairs/tiles)
      // Later k blocks accumulate into what the first one wrote.
      const float beta = pc == 0 ? g.beta : 1.0f;
      for (int64_t ic = 0; ic < m; ic += kern.mc) {
        const int64_t mc = std::min<int64_t>(kern.mc, m - ic);
        const int64_t m_panels = ceil_div(mc, mr);
        for (int64_t ip = 0; ip < m_panels; ++ip) {
          int rows = int(std::min<int64_t>(mr, mc - ip * mr));
          kern.pack_a(a, g.lda, g.trans_a, ic + ip * mr, rows, pc, kc, mr, abuf + ip * mr * kp);
        }
        // Macro-kernel: ir innermost so one B micro-panel stays in L1 while
        // the A micro-panels stream from L2. The B block is packed lazily,
        // one micro-panel right before its first use (ic == 0), and reused by
        // the later ic blocks, so its loads from memory overlap with the
        // arithmetic instead of forming a packing phase of their own. A/B on
        // 64 x 4096 x 25088 (VGG fc6, 2 threads, 3 alternating runs): 47.9 ->
        // 49.7 GFLOP/s median, within this machine's noise; never slower.
        for (int64_t jr = 0; jr < n_panels; ++jr) {
          int cols = int(std::min<int64_t>(nr, nc - jr * nr));
          P* bp = bbuf + jr * nr * kp;
          if (ic == 0) kern.pack_b(b, g.ldb, g.trans_b, pc, kc, jc + jr * nr, cols, nr, bp);
          for (int64_t ir = 0; ir < m_panels; ++ir) {
            int rows = int(std::min<int64_t>(mr, mc - ir * mr));
            micro_tile(kern, kp, abuf + ir * mr * kp, bp, c + (ic + ir * mr) * g.ldc + jc + jr * nr, g.ldc, rows, cols,
                       g.alpha, beta);
          }
        }
      }
    }
  }
}

// Packing buffer sizes in floats (a bf16 panel of the same element count fits in half).
template <class Kern>
size_t b_block_floats(int64_t k, int64_t n, const Kern& kern) {
  return size_t(packed_k(kern, std::min<int64_t>(kern.kc, k))) *
             size_t(round_up(std::min<int64_t>(kern.nc, n), kern.nr)) +
         kPackSlack;
}
template <class Kern>
size_t a_block_floats(int64_t m, int64_t k, const Kern& kern) {
  return size_t(packed_k(kern, std::min<int64_t>(kern.kc, k))) *
             size_t(round_up(std::min<int64_t>(kern.mc, m), kern.mr)) +
         kPackSlack;
}

template <class Kern, class S>
void gemm_serial_buffered(const GemmArgs& g, const S* a, const S* b, float* c, int64_t m, int64_t n, const Kern& kern) {
  using P = typename Kern::packed_t;
  thread_local ScratchBuffer tb, ta;
  P* bbuf = reinterpret_cast<P*>(tb.get(b_block_floats(g.k, n, kern)));
  P* abuf = reinterpret_cast<P*>(ta.get(a_block_floats(m, g.k, kern)));
  thread_begin(kern);
  gemm_serial(g, a, b, c, m, n, kern, bbuf, abuf);
  thread_end(kern);
}

// Splits C into a tm x tn grid of panel-aligned tiles, at least `target`
// of them where the panels allow, each run as a sub-product with its own
// packing buffers and no barrier: threads take tiles from an atomic counter
// (parallel_tiles), so on a busy machine a descheduled thread delays only the
// tile it holds, and an idle one takes the rest. With about 4 tiles per
// thread that tile is 1/8 of a 2-thread call instead of half of it.
// Splitting N makes every tile column pack its rows of A again; splitting M,
// its columns of B: the grid minimises that redundant packing.
// Tiles are panel-aligned, so every element is computed by the same
// micro-kernel call sequence whatever the grid: results are bitwise
// independent of the thread count.
template <class Kern>
void grid_for(int64_t m, int64_t n, int64_t target, const Kern& kern, int64_t* tm, int64_t* tn) {
  const int64_t m_panels = ceil_div(m, kern.mr), n_panels = ceil_div(n, kern.nr);
  target = std::min(target, m_panels * n_panels);
  *tm = 1;
  *tn = std::min(n_panels, target);
  double best = 1e300;
  for (int64_t r = 1; r <= std::min(target, m_panels); ++r) {
    const int64_t q = std::min(n_panels, ceil_div(target, r));
    if (r * q < target) continue;
    const double pack = double(q) * double(m) + double(r) * double(n);
    if (pack < best) {
      best = pack;
      *tm = r;
      *tn = q;
    }
  }
}

// Tiles handed out per thread: enough that one late thread costs little,
// few enough that the redundant packing stays small.
constexpr int kTilesPerThread = 4;

// Every tile packs its own rows of A and columns of B, so a tm x tn grid packs
// k * (tn * m + tm * n) floats where one product packs k * (m + n). A packed
// float costs about kPackFmas FMAs of micro-kernel time: process CPU time at 2
// threads (2026-12-04, 30 interleaved calls, load ~7) of the im2col GEMM of
// VGG-16 conv5_1, 512x196x4608, grew 14.7 -> 16.4 -> 17.6 ms for 2 / 4 / 8
// tiles (0.009 / 0.013 / 0.018 packed floats per FMA): ~0.7 ns per packed
// float against 0.032 ns per FMA (63 GFLOP/s a core). On 256x196x2304 and
// 512x49x4608 the same grids cost 4.6 / 4.7 / 5.4 and 4.8 / 4.6 / 5.2 ms.
constexpr double kPackFmas = 22.0;
// Redundant packing a finer grid may add, as a fraction of the arithmetic.
constexpr double kMaxExtraPacking = 0.10;

// Tiles for nt threads: up to kTilesPerThread each (more tiles let the other
// threads take over from one the OS has descheduled), fewer when the grid's
// redundant packing would cost more than kMaxExtraPacking of the arithmetic
// (mid-size products with a long k: conv layers as GEMMs), never fewer than
// one per thread.
template <class Kern>
int64_t tile_target(int64_t m, int64_t n, int nt, const Kern& kern) {
  for (int64_t per = kTilesPerThread; per > 1; --per) {
    int64_t tm, tn;
    grid_for(m, n, nt * per, kern, &tm, &tn);
    const double extra = kPackFmas * (double(tn - 1) / double(n) + double(tm - 1) / double(m));
    if (extra <= kMaxExtraPacking) return nt * per;
  }
  return nt;
}

// One unit of parallel work: rows [r0, r1) x columns [c0, c1) of product p's
// C, panel-aligned (r0 a multiple of MR, c0 of NR).
struct Tile {
  int64_t p, r0, r1, c0, c1;
  int64_t rows() const { return r1 - r0; }
  int64_t cols() const { return c1 - c0; }
};

// Appends the tiles of product p's tm x tn grid (see grid_for), row by row.
template <class Kern>
void append_grid(std::vector<Tile>* plan, int64_t p, int64_t m, int64_t n, int64_t target, const Kern& kern) {
  int64_t tm, tn;
  grid_for(m, n, target, kern, &tm, &tn);
  const int64_t rows_per = ceil_div(ceil_div(m, kern.mr), tm) * kern.mr;
  const int64_t cols_per = ceil_div(ceil_div(n, kern.nr), tn) * kern.nr;
  for (int64_t r0 = 0; r0 < m; r0 += rows_per)
    for (int64_t c0 = 0; c0 < n; c0 += cols_per)
      plan->push_back({p, r0, std::min(m, r0 + rows_per), c0, std::min(n, c0 + cols_per)});
}

// Cuts a tile in two at a panel boundary across its longer side (cutting the
// rows makes both halves pack the tile's columns of B, cutting the columns
// its rows of A: the longer side is the cheaper cut). False when neither
// side spans two panels.
template <class Kern>
bool halve(const Tile& t, const Kern& kern, Tile* first, Tile* second) {
  *first = *second = t;
  if (t.rows() >= t.cols() && t.rows() > kern.mr) {
    first->r1 = second->r0 = t.r0 + ceil_div(ceil_div(t.rows(), kern.mr), 2) * kern.mr;
    return true;
  }
  if (t.cols() > kern.nr) {
    first->c1 = second->c0 = t.c0 + ceil_div(ceil_div(t.cols(), kern.nr), 2) * kern.nr;
    return true;
  }
  if (t.rows() > kern.mr) {
    first->r1 = second->r0 = t.r0 + ceil_div(ceil_div(t.rows(), kern.mr), 2) * kern.mr;
    return true;
  }
  return false;
}

// Guided tail: tiles are claimed in plan order, so the last ones decide how
// long the other threads wait for a late one. The last nt tiles are cut in
// two, and the last nt of those again, while they exceed kTailTileFlops and
// the cuts' repacking (kPackFmas per packed float) stays under
// kMaxTailPacking of the call's arithmetic: big tiles first, then ever
// smaller ones (2048^3 at 2 threads: 6 tiles of 1024x512, then 512x512 down
// to 128x128). A thread the OS slows down near the end of a call then holds
// a tile of about a millisecond instead of 1/8 of the call (2048^3 next to
// one spinning process: a 1024x512 tile is ~40 ms at 2/3 of a core). The
// tiles stay panel-aligned: results do not change.
// kTailTileFlops: about 1 ms on one core here (65-80 GFLOP/s), the scale of
// the scheduler's time slice; below it a cut buys little. kMaxTailPacking:
// the cuts of 2048^3 / 4096^3 cost ~1% (modelled), mid-size long-k products
// (conv layers as GEMMs, 512x196x4608) would pay 4% per level and are left
// alone.
constexpr double kTailTileFlops = 64.0e6;
constexpr double kMaxTailPacking = 0.03;

template <class Kern>
void split_tail(std::vector<Tile>* plan, int64_t m, int64_t n, int64_t k, int64_t products, int nt, const Kern& kern) {
  const double work = double(m) * double(n) * double(products);  // FMAs per k
  double extra = 0.0;
  for (;;) {
    const size_t first = plan->size() - std::min(plan->size(), size_t(nt));
    std::vector<Tile> halves;
    for (size_t i = first; i < plan->size(); ++i) {
      const Tile t = (*plan)[i];
      Tile a, b;
      if (2.0 * double(t.rows()) * double(t.cols()) * double(k) <= kTailTileFlops || !halve(t, kern, &a, &b)) return;
      // Both halves pack the side that was not cut.
      extra += kPackFmas * double(a.r0 == b.r0 ? t.rows() : t.cols()) / work;
      halves.push_back(a);
      halves.push_back(b);
    }
    if (extra > kMaxTailPacking) return;
    plan->resize(first);
    plan->insert(plan->end(), halves.begin(), halves.end());
  }
}

// Tile t of a plan on the calling thread: `sum` products (operands
// stride_a / stride_b apart) added into it in order, the first with g.beta
// and the others with beta 1: per element the same micro-kernel calls as
// `sum` GEMM calls one after the other.
template <class Kern, class S>
void run_tile(const GemmArgs& g, const S* a, const S* b, const Tile& t, int64_t sum, const Kern& kern) {
  a += t.p * g.stride_a;
  b += t.p * g.stride_b;
  float* c = g.c + t.p * g.stride_c;
  GemmArgs gi = g;
  for (int64_t i = 0; i < sum; ++i) {
    if (i > 0) gi.beta = 1.0f;
    // Offsets into op(A) rows and op(B) columns.
    const S* ai = a + i * g.stride_a;
    const S* bi = b + i * g.stride_b;
    const S* a_sub = g.trans_a ? ai + t.r0 : ai + t.r0 * g.lda;
    const S* b_sub = g.trans_b ? bi + t.c0 * g.ldb : bi + t.c0;
    gemm_serial_buffered(gi, a_sub, b_sub, c + t.r0 * g.ldc + t.c0, t.rows(), t.cols(), kern);
  }
}

// The operands as the kernel's source type (float32 a/b, or bf16 a16/b16).
inline const float* a_of(const GemmArgs& g, const float*) { return g.a; }
inline const float* b_of(const GemmArgs& g, const float*) { return g.b; }
inline const uint16_t* a_of(const GemmArgs& g, const uint16_t*) { return g.a16; }
inline const uint16_t* b_of(const GemmArgs& g, const uint16_t*) { return g.b16; }

template <class Kern>
void gemm_blis(const GemmArgs& g, const Kern& kern) {
  using S = typename Kern::src_t;
  const S* ga = a_of(g, static_cast<const S*>(nullptr));
  const S* gb = b_of(g, static_cast<const S*>(nullptr));
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (g.k == 0 || g.alpha == 0.0f) {
    for (int64_t i = 0; i < (g.sum_batch ? 1 : g.batch); ++i) scale_c(g.c + i * g.stride_c, g.ldc, g.m, g.n, g.beta);
    return;
  }
  // `products` C matrices, each the sum of `sum` products (sum_batch: one C).
  const int64_t products = g.sum_batch ? 1 : g.batch, sum = g.sum_batch ? g.batch : 1;
  // Thread count from the whole call's work: no team for microseconds.
  const int all = g.num_threads > 0 ? g.num_threads : get_num_threads();
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k) * double(g.batch);
  const int nt = int(std::min<int64_t>(all, std::max<int64_t>(1, int64_t(flops / kMinFlopsPerThread))));
  if (nt <= 1) {
    for (int64_t p = 0; p < products; ++p) run_tile(g, ga, gb, Tile{p, 0, g.m, 0, g.n}, sum, kern);
    return;
  }
  // The plan: many products, one per tile; few, each split into a grid, all
  // their tiles in one loop (one join per call instead of one per product).
  // Then the guided tail. Tiles are handed out dynamically in plan order.
  std::vector<Tile> plan;
  if (products >= int64_t(nt) * kTilesPerThread) {
    for (int64_t p = 0; p < products; ++p) plan.push_back({p, 0, g.m, 0, g.n});
  } else {
    const int64_t target = ceil_div(tile_target(g.m, g.n, nt, kern), products);
    for (int64_t p = 0; p < products; ++p) append_grid(&plan, p, g.m, g.n, target, kern);
  }
  split_tail(&plan, g.m, g.n, g.k * sum, products, nt, kern);
  parallel_tiles(int64_t(plan.size()), nt, [&](int64_t t) { run_tile(g, ga, gb, plan[size_t(t)], sum, kern); });
}

// The dtype column: float32 kernels decline bf16 operands and vice versa.
std::string declines_bf16(const GemmArgs& g) {
  return g.is_bf16() ? "a and b are bfloat16 (this is a float32 kernel)" : "";
}
std::string declines_f32(const GemmArgs& g) {
  return g.is_bf16() ? "" : "a and b are float32 (this is a bfloat16 kernel)";
}

// bfloat16 C: the product runs into a float32 matrix (beta reading the bf16
// C through it), rounded once to bf16 at the end. One rounding, after alpha
// and beta, whatever the kernel.
template <class Kern>
void gemm_bf16(const GemmArgs& g, const Kern& kern) {
  if (!g.c16) {
    gemm_blis(g, kern);
    return;
  }
  DLCORE_CHECK(!g.sum_batch, "gemm: sum_batch needs a float32 C");
  const int64_t mn = g.m * g.n;
  std::vector<float> tmp(size_t(std::max<int64_t>(1, g.batch * mn)));
  GemmArgs f = g;
  f.c16 = nullptr;
  f.c = tmp.data();
  f.ldc = g.n;
  f.stride_c = mn;
  auto rows = [&](auto fn) {
#pragma omp parallel for num_threads(get_num_threads()) if (g.batch * mn > (1 << 16))
    for (int64_t r = 0; r < g.batch * g.m; ++r) {
      const int64_t i = r / g.m, row = r % g.m;
      fn(g.c16 + i * g.stride_c + row * g.ldc, tmp.data() + i * mn + row * g.n);
    }
  };
  if (g.beta != 0.0f) rows([&](const uint16_t* c16, float* t) { bf16_to_f32_row(c16, g.n, t); });
  gemm_blis(f, kern);
  rows([&](uint16_t* c16, const float* t) { f32_to_bf16_row(t, g.n, c16); });
}

void run_ref(const GemmArgs& g) { gemm_blis(g, gemm_kernel_ref()); }
void run_bf16_ref(const GemmArgs& g) { gemm_bf16(g, gemm_kernel_bf16_ref()); }
#ifdef DLCORE_HAVE_AVX2
void run_avx2(const GemmArgs& g) { gemm_blis(g, gemm_kernel_avx2()); }
void run_bf16_avx2(const GemmArgs& g) { gemm_bf16(g, gemm_kernel_bf16_avx2()); }
#endif
#ifdef DLCORE_HAVE_AVX512
void run_avx512(const GemmArgs& g) { gemm_blis(g, gemm_kernel_avx512()); }
void run_bf16_avx512(const GemmArgs& g) { gemm_bf16(g, gemm_kernel_bf16_avx512()); }
void run_bf16_avx512bf16(const GemmArgs& g) { gemm_bf16(g, gemm_kernel_bf16_avx512bf16()); }
void run_bf16_amx(const GemmArgs& g) { gemm_bf16(g, gemm_kernel_bf16_amx()); }
#endif

}  // namespace

const Registry<GemmArgs>& gemm_registry() {
  // Fastest first, reference last. Every entry accepts every shape of its
  // dtype; the dtype column is a decline (float32 vs bfloat16 operands).
  static const Registry<GemmArgs> registry(
      "gemm", {
#ifdef DLCORE_HAVE_AVX512
                  {"gemm_bf16_amx_32x32", Isa::amx, declines_f32, run_bf16_amx},
                  {"gemm_bf16_avx512bf16_12x32", Isa::avx512_bf16, declines_f32, run_bf16_avx512bf16},
                  {"gemm_avx512_12x32", Isa::avx512, declines_bf16, run_avx512},
                  {"gemm_bf16cvt_avx512_12x32", Isa::avx512, declines_f32, run_bf16_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
                  {"gemm_avx2_6x16", Isa::avx2, declines_bf16, run_avx2},
                  {"gemm_bf16cvt_avx2_6x16", Isa::avx2, declines_f32, run_bf16_avx2},
#endif
                  {"gemm_ref_4x8", Isa::ref, declines_bf16, run_ref},
                  {"gemm_bf16cvt_ref_4x8", Isa::ref, declines_f32, run_bf16_ref},
              });
  return registry;
}

const GemmKernel& gemm_kernel_for(Isa isa) {
  switch (isa) {
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512:
      return gemm_kernel_avx512();
#endif
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2:
      return gemm_kernel_avx2();
#endif
    default:
      return gemm_kernel_ref();
  }
}

void gemm_with_blocking(const GemmArgs& args, Isa isa, int mc, int kc, int nc) {
  DLCORE_CHECK(isa_built(isa) && isa_supported(isa), "gemm_with_blocking: ", isa_name(isa),
               " cannot run here: ", isa_unavailable_reason(isa));
  GemmKernel kern = gemm_kernel_for(isa);
  DLCORE_CHECK(mc > 0 && kc > 0 && nc > 0 && mc % kern.mr == 0 && nc % kern.nr == 0,
               "gemm_with_blocking: mc must be a positive multiple of ", kern.mr, " and nc of ", kern.nr,
               "; got mc=", mc, " kc=", kc, " nc=", nc);
  kern.mc = mc;
  kern.kc = kc;
  kern.nc = nc;
  gemm_blis(args, kern);
}

void gemm_run_isa(const GemmArgs& args, Isa isa) {
  for (const auto& impl : gemm_registry().impls())
    if (impl.isa == isa && (!impl.declines || impl.declines(args).empty())) {
      impl.run(args);
      return;
    }
  throw BackendError(cat("gemm: no ", isa_name(isa), " implementation accepts these arguments"));
}

void gemm(const GemmArgs& args, const std::string& backend) { gemm_registry().select(args, backend).run(args); }

}  // namespace dlcore
