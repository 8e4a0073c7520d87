// GEMM loops (BLIS layering): jc over NC columns of C, pc over KC of the
// shared dimension, ic over MC rows; inside, jr/ir over NR x MR micro-tiles.
// Loops, packing and edges live here once; an ISA only adds a micro-kernel
// and a row of block sizes (gemm/ukernel_*.cpp).
#include "gemm/gemm.h"

#include <omp.h>

#include <algorithm>

#include "core/buffer.h"
#include "core/pool.h"
#include "core/threads.h"
#include "gemm/blocksizes.h"

namespace dlcore {
namespace {

constexpr int kMaxMr = 16;
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
inline void micro_tile(const GemmKernel& kern, int64_t kc, const float* ap, const float* bp,
                       float* c, int64_t ldc, int rows, int cols, float alpha, float beta) {
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

int threads_for(const GemmArgs& g, int64_t m, int64_t n, int64_t k) {
  int nt = g.num_threads > 0 ? g.num_threads : get_num_threads();
  double flops = 2.0 * double(m) * double(n) * double(k);
  int64_t useful = std::max<int64_t>(1, int64_t(flops / kMinFlopsPerThread));
  return int(std::min<int64_t>(nt, useful));
}

// One product on the calling thread: the five BLIS loops over private
// packing buffers (bbuf: kc x nc block of B, abuf: mc x kc block of A).
void gemm_serial(const GemmArgs& g, const float* a, const float* b, float* c, int64_t m, int64_t n,
                 const GemmKernel& kern, float* bbuf, float* abuf) {
  const int64_t k = g.k;
  const int mr = kern.mr, nr = kern.nr;
  for (int64_t jc = 0; jc < n; jc += kern.nc) {
    const int64_t nc = std::min<int64_t>(kern.nc, n - jc);
    const int64_t n_panels = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < k; pc += kern.kc) {
      const int64_t kc = std::min<int64_t>(kern.kc, k - pc);
      // Later k blocks accumulate into what the first one wrote.
      const float beta = pc == 0 ? g.beta : 1.0f;
      for (int64_t ic = 0; ic < m; ic += kern.mc) {
        const int64_t mc = std::min<int64_t>(kern.mc, m - ic);
        const int64_t m_panels = ceil_div(mc, mr);
        for (int64_t ip = 0; ip < m_panels; ++ip) {
          int rows = int(std::min<int64_t>(mr, mc - ip * mr));
          kern.pack_a(a, g.lda, g.trans_a, ic + ip * mr, rows, pc, kc, mr, abuf + ip * mr * kc);
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
          float* bp = bbuf + jr * nr * kc;
          if (ic == 0) kern.pack_b(b, g.ldb, g.trans_b, pc, kc, jc + jr * nr, cols, nr, bp);
          for (int64_t ir = 0; ir < m_panels; ++ir) {
            int rows = int(std::min<int64_t>(mr, mc - ir * mr));
            micro_tile(kern, kc, abuf + ir * mr * kc, bp, c + (ic + ir * mr) * g.ldc + jc + jr * nr, g.ldc,
                       rows, cols, g.alpha, beta);
          }
        }
      }
    }
  }
}

size_t b_block_floats(int64_t k, int64_t n, const GemmKernel& kern) {
  return size_t(std::min<int64_t>(kern.kc, k)) * size_t(round_up(std::min<int64_t>(kern.nc, n), kern.nr)) +
         kPackSlack;
}
size_t a_block_floats(int64_t m, int64_t k, const GemmKernel& kern) {
  return size_t(std::min<int64_t>(kern.kc, k)) * size_t(round_up(std::min<int64_t>(kern.mc, m), kern.mr)) +
         kPackSlack;
}

void gemm_serial_buffered(const GemmArgs& g, const float* a, const float* b, float* c, int64_t m,
                          int64_t n, const GemmKernel& kern) {
  thread_local ScratchBuffer tb, ta;
  float* bbuf = tb.get(b_block_floats(g.k, n, kern));
  float* abuf = ta.get(a_block_floats(m, g.k, kern));
  gemm_serial(g, a, b, c, m, n, kern, bbuf, abuf);
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
void grid_for(int64_t m, int64_t n, int64_t target, const GemmKernel& kern, int64_t* tm, int64_t* tn) {
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

void gemm_one(const GemmArgs& g, const float* a, const float* b, float* c, const GemmKernel& kern,
              int nt) {
  if (nt <= 1) {
    gemm_serial_buffered(g, a, b, c, g.m, g.n, kern);
    return;
  }
  int64_t tm, tn;
  grid_for(g.m, g.n, int64_t(nt) * kTilesPerThread, kern, &tm, &tn);
  const int64_t m_panels = ceil_div(g.m, kern.mr), n_panels = ceil_div(g.n, kern.nr);
  const int64_t rows_per = ceil_div(m_panels, tm) * kern.mr, cols_per = ceil_div(n_panels, tn) * kern.nr;
  parallel_tiles(tm * tn, nt, [&](int64_t t) {
    const int64_t ti = t / tn, tj = t % tn;
    const int64_t r0 = std::min(g.m, ti * rows_per), r1 = std::min(g.m, (ti + 1) * rows_per);
    const int64_t c0 = std::min(g.n, tj * cols_per), c1 = std::min(g.n, (tj + 1) * cols_per);
    if (r1 <= r0 || c1 <= c0) return;
    // Offsets into op(A) rows and op(B) columns.
    const float* a_sub = g.trans_a ? a + r0 : a + r0 * g.lda;
    const float* b_sub = g.trans_b ? b + c0 * g.ldb : b + c0;
    gemm_serial_buffered(g, a_sub, b_sub, c + r0 * g.ldc + c0, r1 - r0, c1 - c0, kern);
  });
}

void gemm_blis(const GemmArgs& g, const GemmKernel& kern) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (g.k == 0 || g.alpha == 0.0f) {
    for (int64_t i = 0; i < g.batch; ++i) scale_c(g.c + i * g.stride_c, g.ldc, g.m, g.n, g.beta);
    return;
  }
  const int all = g.num_threads > 0 ? g.num_threads : get_num_threads();
  if (g.batch >= all && all > 1) {
    // Many products: one per thread at a time, handed out dynamically.
    // Thread count from the whole batch's work: no team for microseconds.
    const int nb = int(std::min<int64_t>(
        all, std::max<int64_t>(1, int64_t(2.0 * double(g.m) * double(g.n) * double(g.k) * double(g.batch) /
                                          kMinFlopsPerThread))));
    parallel_tiles(g.batch, nb, [&](int64_t i) {
      gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c, kern, 1);
    });
    return;
  }
  const int nt = threads_for(g, g.m, g.n, g.k);
  for (int64_t i = 0; i < g.batch; ++i)
    gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c, kern, nt);
}

void run_ref(const GemmArgs& g) { gemm_blis(g, gemm_kernel_ref()); }
#ifdef DLCORE_HAVE_AVX2
void run_avx2(const GemmArgs& g) { gemm_blis(g, gemm_kernel_avx2()); }
#endif
#ifdef DLCORE_HAVE_AVX512
void run_avx512(const GemmArgs& g) { gemm_blis(g, gemm_kernel_avx512()); }
#endif

}  // namespace

const Registry<GemmArgs>& gemm_registry() {
  // Fastest first, reference last. GEMM accepts every shape on every ISA.
  static const Registry<GemmArgs> registry("gemm", {
#ifdef DLCORE_HAVE_AVX512
    {"gemm_avx512_12x32", Isa::avx512, nullptr, run_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"gemm_avx2_6x16", Isa::avx2, nullptr, run_avx2},
#endif
    {"gemm_ref_4x8", Isa::ref, nullptr, run_ref},
  });
  return registry;
}

const GemmKernel& gemm_kernel_for(Isa isa) {
  switch (isa) {
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512: return gemm_kernel_avx512();
#endif
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2: return gemm_kernel_avx2();
#endif
    default: return gemm_kernel_ref();
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

void gemm(const GemmArgs& args, const std::string& backend) {
  gemm_registry().select(args, backend).run(args);
}

}  // namespace dlcore
