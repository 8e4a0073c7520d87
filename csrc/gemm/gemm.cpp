// GEMM loops (BLIS layering): jc over NC columns of C, pc over KC of the
// shared dimension, ic over MC rows; inside, jr/ir over NR x MR micro-tiles.
// Loops, packing and edges live here once; an ISA only adds a micro-kernel
// and a row of block sizes (gemm/ukernel_*.cpp).
#include "gemm/gemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/bf16.h"

#include "core/buffer.h"
#include "core/epilogue.h"
#include "core/parallel.h"
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

// The kernel for the first `rows` rows of a full-width tile, or null
// (GemmKernel::edge_rows; the bfloat16 kernels have none).
inline GemmUKernel edge_kernel(const GemmKernel& kern, int rows) {
  return kern.edge_rows ? kern.edge_rows[rows] : nullptr;
}
template <class S, class P>
inline auto edge_kernel(const GemmKernelOf<S, P>& kern, int) -> decltype(kern.ukernel) {
  return nullptr;
}

// The kernel for a full-height tile of fewer than nr columns, or null
// (GemmKernel::right_cols; the bfloat16 kernels have none).
inline GemmUKernelCols right_kernel(const GemmKernel& kern) { return kern.right_cols; }
template <class S, class P>
inline GemmUKernelCols right_kernel(const GemmKernelOf<S, P>&) {
  return nullptr;
}

// C = tile + beta * C over the first rows x cols of a tile computed into a
// buffer of row stride ld (beta == 0: C not read).
inline void add_tile(const float* tile, int ld, float* c, int64_t ldc, int rows, int cols, float beta) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      float* cp = c + i * ldc + j;
      const float t = tile[i * ld + j];
      *cp = beta == 0.0f ? t : t + beta * *cp;
    }
}

// How op(A) reaches the micro-kernels (see a_mode): packed into panels, read
// in place (op(A) = A: its rows), or its rows copied as they are into a
// buffer with a stride that spreads them over the L1 sets, then read like in
// place; or op(A) = A^T read in place (its columns: ukernel.h ASource).
enum class AMode { packed, in_place, copied, columns };

// Nothing of A is packed or copied.
inline bool a_read_in_place(AMode amode) { return amode == AMode::in_place || amode == AMode::columns; }

// Row stride of the copied A block: kc rounded up to an odd number of
// 64-byte lines, so consecutive rows start in different L1 sets.
inline int64_t copied_ld(int64_t kc) {
  const int64_t ld = round_up(kc, 16);
  return (ld / 16) % 2 == 0 ? ld + 16 : ld;
}

// The kernels that read A as `amode` says (null: packed panels).
inline const GemmDirectA* direct_of(const GemmKernel& kern, AMode amode) {
  return amode == AMode::packed ? nullptr : amode == AMode::columns ? kern.direct_at : kern.direct_a;
}
template <class S, class P>
inline const GemmDirectA* direct_of(const GemmKernelOf<S, P>&, AMode) {
  return nullptr;
}

// One MR x NR tile of C; a partial tile at the edge goes through a buffer so
// the micro-kernel never writes outside C, unless the kernel has an edge
// kernel for that many rows (full width) or columns (full height).
template <class Kern, class P>
inline void micro_tile(const Kern& kern, int64_t kc, const P* ap, const P* bp, float* c, int64_t ldc, int rows,
                       int cols, float alpha, float beta) {
  if (rows == kern.mr && cols == kern.nr) {
    kern.ukernel(kc, ap, bp, c, ldc, alpha, beta);
    return;
  }
  if (cols == kern.nr) {
    if (auto edge = edge_kernel(kern, rows)) {
      edge(kc, ap, bp, c, ldc, alpha, beta);
      return;
    }
  } else if constexpr (std::is_same<P, float>::value) {
    if (rows == kern.mr) {
      if (auto right = right_kernel(kern)) {
        right(kc, ap, bp, c, ldc, alpha, beta, cols);
        return;
      }
    }
  }
  alignas(64) float tile[kMaxMr * kMaxNr];
  kern.ukernel(kc, ap, bp, tile, kern.nr, alpha, 0.0f);
  add_tile(tile, kern.nr, c, ldc, rows, cols, beta);
}

// Micro-tile `ir` of `tiles`' share of B's panel of columns [col0, col0 +
// cols) of op(B) at k block [pc, pc + kc) in memory, as rows: op(B) = B^T,
// `cols` rows of W (kc floats each); op(B) = B, kc rows of `cols` floats.
// The source of the next panel to pack, or the next panel of a B read in
// place (gemm_serial). A row spans the lines from its first byte to its last;
// rows whose stride is not whole lines are counted one line longer.
inline LinePrefetch panel_source_share(const GemmArgs& g, const float* b, int64_t pc, int64_t kc, int64_t col0,
                                       int cols, int64_t ir, int64_t tiles) {
  const int64_t rows = g.trans_b ? cols : kc, row_bytes = (g.trans_b ? kc : cols) * int64_t(sizeof(float));
  const int64_t r0 = rows * ir / tiles, r1 = rows * (ir + 1) / tiles;
  LinePrefetch pf;
  pf.first = reinterpret_cast<const char*>(g.trans_b ? b + (col0 + r0) * g.ldb + pc : b + (pc + r0) * g.ldb + col0);
  pf.ld_bytes = g.ldb * int64_t(sizeof(float));
  const int64_t offset = int64_t(reinterpret_cast<uintptr_t>(pf.first) % 64);
  pf.row_lines = pf.ld_bytes % 64 == 0 ? ceil_div(offset + row_bytes, 64) : ceil_div(row_bytes, 64) + 1;
  pf.lines = (r1 - r0) * pf.row_lines;
  return pf;
}

// The lines of `pf` fetched at once, where they outnumber the k steps of the
// micro-kernel that would stream them (a panel shared by one or two
// micro-tiles).
inline void prefetch_all(const LinePrefetch& pf) {
  const char* row = pf.first;
  for (int64_t line = 0, col = 0; line < pf.lines; ++line) {
    __builtin_prefetch(row + 64 * col, 0, kPrefetchLocality);
    if (++col == pf.row_lines) {
      col = 0;
      row += pf.ld_bytes;
    }
  }
}

// The same with A read in place (GemmDirectA): `a` is the tile's first row
// of A at its k block, lda apart; `bp` a packed panel (ldb = nr), or the
// first row of a full-width panel of B read in place (b_in_place), ldb
// apart. The corner tile (both edges) computes its rows full width into the
// buffer; nothing reads A past `rows`.
// pf: lines the full-width kernels prefetch meanwhile (LinePrefetch), or null.
inline void micro_tile_direct(const GemmKernel& kern, const GemmDirectA& d, int64_t kc, const float* a, int64_t lda,
                              const float* bp, int64_t ldb, float* c, int64_t ldc, int rows, int cols, float alpha,
                              float beta, const LinePrefetch* pf) {
  if (cols == kern.nr) {
    if (rows == kern.mr)
      d.full(kc, a, lda, bp, ldb, c, ldc, alpha, beta, pf);
    else
      d.edge_rows[rows](kc, a, lda, bp, ldb, c, ldc, alpha, beta, pf);
    return;
  }
  if (rows == kern.mr) {
    d.right(kc, a, lda, bp, c, ldc, alpha, beta, cols);
    return;
  }
  alignas(64) float tile[kMaxMr * kMaxNr];
  d.edge_rows[rows](kc, a, lda, bp, kern.nr, tile, kern.nr, alpha, 0.0f, nullptr);
  add_tile(tile, kern.nr, c, ldc, rows, cols, beta);
}

// ---- The right edge as dot products ----------------------------------------
// A right edge of a few columns (N = 196: 6 panels of 32 and 4 columns) runs
// a whole vector of 16 lanes in the broadcast kernels: 12 FMAs a k step for
// 4 columns of work, half a full panel's time for an eighth of its work
// (Zen 4, one thread, 512x196x4608: 6.8% of the time for 2% of the FMAs).
// Where A's rows are read (in place or copied: contiguous along k), those
// columns run as dot products along k instead (GemmKernel::dot, 4 x 4
// tiles: 16 FMAs a k step of 16 for 16 elements, a horizontal sum each per
// k block), reading B^T's rows in place (op(B) = B^T: W's last rows) or the
// edge columns copied k-contiguous after the B block (op(B) = B; edge_floats).
// A different order of additions from the broadcast kernels (16 partial sums
// per element), so within rounding of the packed result, not bitwise; chosen
// by the shape and layout alone, so still bitwise independent of the thread
// count. Zen 4, 2026-12-05, in-process alternating blocks, GFLOP/s
// broadcast -> dots, one thread: 512x196x4608 97 -> 103 (oneDNN 99),
// 256x196x2304 98 -> 104, 64x324x4096 (B^T) 91 -> 94; 2 threads:
// 512x196x4608 191 -> 206 (oneDNN 207), 256x196x2304 186 -> 197,
// 64x324x4096 (B^T) 157 -> 160. Edges of 9-16 columns (384x169x2304,
// 128x784x1152) measured no gain (12 dot tiles a k step of 16 for 12 rows
// x 16 columns match the 16-lane kernel), so they stay broadcast. An edge
// of 17-24 columns is one whole vector (16) broadcast and the rest as dots
// (lenet's 500 = 15 x 32 + 20: 15 cycles a k step for the 20, not 24):
// 64x500x800 (B^T), 2 threads, 172 -> 177, 178 -> 181, 175 -> 178 (oneDNN
// 148-173), one thread 90 -> 91; 100x500x800 195 -> 197.
constexpr int kDotEdgeMaxCols = 8;

// How many of a right edge's `cols` columns run as dot tiles (the last
// ones; the broadcast kernels take the whole vector before them), or 0.
inline int dot_edge_cols(const GemmKernel& kern, AMode amode, int cols) {
  if (!kern.dot || !kern.dot->right_edges || (amode != AMode::in_place && amode != AMode::copied)) return 0;
  const int vector = kern.nr / 2;
  if (cols <= kDotEdgeMaxCols) return cols;
  if (cols > vector && cols - vector <= kDotEdgeMaxCols) return cols - vector;
  return 0;
}

// dst[j * kc + p] = src[p * lds + j] for j < cols, p < kc: op(B)'s edge
// columns made k-contiguous for the dot tiles (cols <= kDotEdgeMaxCols, or
// all of a narrow B: gemm_dot).
inline void copy_edge_columns(const float* src, int64_t lds, int64_t kc, int cols, float* dst) {
  for (int64_t p = 0; p < kc; ++p)
    for (int j = 0; j < cols; ++j) dst[j * kc + p] = src[p * lds + j];
}

// One micro-tile row's right edge, rows x cols, as dot tiles: A's rows lda
// apart along k, the edge's columns `bt` ldbt apart along k.
inline void right_edge_dots(const GemmDot& d, int64_t kc, const float* a, int64_t lda, const float* bt, int64_t ldbt,
                            float* c, int64_t ldc, int rows, int cols, float alpha, float beta) {
  for (int i = 0; i < rows; i += d.mr)
    for (int j = 0; j < cols; j += d.nr)
      d.tile(kc, a + i * lda, lda, bt + j * ldbt, ldbt, c + i * ldc + j, ldc, alpha, beta, std::min(d.mr, rows - i),
             std::min(d.nr, cols - j));
}

// The fused epilogue (gemm.h) on a rows x cols block of C whose first element
// is (r0, c0) of the product: bias, then activation. Run by the thread that
// just wrote the block, right after its last k block, so the block is still in
// L1. Baseline code, one pass over the block: the same arithmetic (one float
// add, then relu_scalar) as a separate bias add and relu_forward pass, so the
// fused result is bitwise the unfused one.
void apply_epilogue(const GemmArgs& g, float* c, int64_t ldc, int64_t r0, int64_t c0, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    if (g.bias_row) {
      const float b = g.bias_row[r0 + i];
      for (int64_t j = 0; j < cols; ++j) row[j] += b;
    }
    if (g.bias_col) {
      const float* b = g.bias_col + c0;
      for (int64_t j = 0; j < cols; ++j) row[j] += b[j];
    }
    if (g.relu)
      for (int64_t j = 0; j < cols; ++j) row[j] = relu_scalar(row[j]);
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

// The k block of a product: kern.kc, or less so that the blocks come out
// even (k = 576 with KC = 512 runs as 2 x 288, not 512 + 64, whose short
// block would pay a whole pass over C for 64 k steps). The split depends on
// k and a_mode (shape and layout) alone, never on the thread count. Where A
// is copied (AMode::copied) the most is kern.kc_copied, if the ISA sets it.
// bfloat16 kernels keep kc: their panels pad every block to a multiple of kr.
inline int64_t even_block(int64_t k, int64_t most) { return ceil_div(k, ceil_div(k, most)); }
inline int64_t k_block(const GemmKernel& kern, int64_t k, AMode amode) {
  return even_block(k, amode == AMode::copied && kern.kc_copied > 0 ? kern.kc_copied : kern.kc);
}
template <class S, class P>
inline int64_t k_block(const GemmKernelOf<S, P>& kern, int64_t, AMode) {
  return kern.kc;
}

// The ic block of a tile of m rows: kern.mc, or all of them up to twice
// that, so the tile is one row block and each B panel serves its jr step
// alone (two slots in turn, its source fetched during the panel before:
// gemm_serial) instead of being kept in a kc x nc block for a second ic
// block, from memory. The arithmetic of every element is the same. Zen 4,
// 2026-12-05, in-process alternating blocks, GFLOP/s two blocks -> one: one
// thread 256x4096x4096 (B^T) 94 -> 102 (oneDNN 106); 2 threads (tiles of 264
// rows) 193 -> 199 and 194 -> 199, 512x196x4608 177 -> 181, 256x3136x2304
// 189 -> 192 and 192 -> 196, the rest unchanged (their tiles are <= MC).
inline int64_t row_block(const GemmKernel& kern, int64_t m) {
  return m <= 2 * int64_t(kern.mc) ? round_up(m, kern.mr) : kern.mc;
}
template <class S, class P>
inline int64_t row_block(const GemmKernelOf<S, P>& kern, int64_t) {
  return kern.mc;
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

// Packing buffer sizes in floats (a bf16 panel of the same element count fits in half).
template <class Kern>
size_t b_block_floats(int64_t k, int64_t n, const Kern& kern, AMode amode) {
  return size_t(packed_k(kern, std::min<int64_t>(k_block(kern, k, amode), k))) *
             size_t(round_up(std::min<int64_t>(kern.nc, n), kern.nr)) +
         kPackSlack;
}
// After the B block: a right edge's dot-tile columns made k-contiguous
// (gemm_serial), float32 kernels only.
inline size_t edge_floats(int64_t k, const GemmKernel& kern, AMode amode) {
  return size_t(kDotEdgeMaxCols) * size_t(std::min<int64_t>(k_block(kern, k, amode), k));
}
template <class S, class P>
inline size_t edge_floats(int64_t, const GemmKernelOf<S, P>&, AMode) {
  return 0;
}
template <class Kern>
size_t a_block_floats(int64_t m, int64_t k, const Kern& kern, AMode amode) {
  // packed panels, or rows copied with the stride copied_ld (at most kc + 31)
  return size_t(packed_k(kern, std::min<int64_t>(k_block(kern, k, amode), k)) + 32) *
             size_t(round_up(std::min<int64_t>(row_block(kern, m), m), kern.mr)) +
         kPackSlack;
}

// ---- A's panels shared by the tiles of one call -----------------------------
// Tiles in one row of the thread grid need the same panels of A (packed, or
// rows copied, see a_mode); packed by each tile for itself, A is packed once
// per tile column. Shared, every panel (one k block of one MR-row panel)
// has a slot, packed by the first tile that needs it; a tile that finds its
// slot being packed by another thread right now (descheduled, perhaps)
// packs a copy of its own instead of waiting, so no tile ever waits for
// another and a late thread still delays only its own tile. Every copy
// holds the same values: results do not depend on who packed what.
// Only for tiles of at least kShareMinCols columns, where a panel serves
// enough micro-tiles to repay reading it from another core's cache.
// Zen 4, 2 threads, 2026-12-05, medians of 3-4 alternating processes over
// the gemm report's 26 shapes, GFLOP/s without -> with: 256x4096x9216 (B^T)
// 199 -> 207, 256x4096x4096 (B^T) 199-201 -> 206-207, 64x4096x25088 (B^T)
// 171-174 -> 177-180, 64x4096x4096 (B^T) 173-177 -> 179-180, the rest within
// the noise; alternating blocks with and without in one process (two runs,
// which cancels this host's process-to-process noise): the same four +5.0 /
// +1.8%, +0.4 / +2.3%, +1.2 / +2.4%, -1.9 / +1.6%, 2048^3 +0.3 / +0.8%,
// 1024^3 and 256x1000x4096 (B^T) within 1%. Sharing every panel whatever
// the tile (and B's panels across tile rows too) lost up to a third on some
// processes of small-tile shapes (256x196x2304 198 -> 133-145, 64x128x9216
// (B^T) 183 -> 140, 512x49x4608 157 -> 120), and B's panels gained nothing
// measurable on the squares.
enum : uint8_t { kSlotEmpty = 0, kSlotPacking = 1, kSlotReady = 2 };
constexpr int64_t kShareMinCols = 256;

template <class P>
struct SharedPanels {
  P* data = nullptr;  // null: nothing shared, every tile packs its own panels
  std::atomic<uint8_t>* state = nullptr;
  int64_t slot_elems = 0;  // elements per slot
  int64_t panels = 0;      // slots per k block

  // Panel `panel` (numbered over the whole product) of k block `kblock`:
  // the shared slot, packed by pack(dst) if nobody has, or `own` packed here.
  template <class Pack>
  const P* get(int64_t kblock, int64_t panel, P* own, const Pack& pack) const {
    if (!data) {
      pack(own);
      return own;
    }
    const int64_t s = kblock * panels + panel;
    P* slot = data + s * slot_elems;
    uint8_t seen = state[s].load(std::memory_order_acquire);
    if (seen == kSlotEmpty &&
        state[s].compare_exchange_strong(seen, kSlotPacking, std::memory_order_acquire, std::memory_order_acquire)) {
      pack(slot);
      state[s].store(kSlotReady, std::memory_order_release);
      return slot;
    }
    if (seen == kSlotReady) return slot;
    pack(own);  // another thread is packing it at this moment
    return own;
  }
};

// A tile's view of the shared panels: their slots, and the index of the
// tile's first row panel in the whole product (tiles are panel-aligned).
template <class P>
struct TileShare {
  SharedPanels<P> a;
  int64_t row_panel0 = 0;
};

// One product on the calling thread: the five BLIS loops over private
// packing buffers (bbuf: kc x nc block of B, abuf: mc x kc block of A), or
// over the call's shared panels of A where `share` has them.
template <class Kern, class S = typename Kern::src_t, class P = typename Kern::packed_t>
void gemm_serial(const GemmArgs& g, const S* a, const S* b, float* c, int64_t m, int64_t n, const Kern& kern, P* bbuf,
                 P* abuf, AMode amode, bool b_in_place, const TileShare<P>& share) {
  const GemmDirectA* direct = direct_of(kern, amode);
  const bool copied = direct && amode == AMode::copied;
  const int64_t k = g.k;
  const int mr = kern.mr, nr = kern.nr;
  const int64_t kb = k_block(kern, k, amode);
  // The A panels of the current ic block: in abuf or shared slots.
  thread_local std::vector<const P*> a_panels;
  const int64_t mc_most = row_block(kern, m);
  const bool one_ic_block = m <= mc_most;
  a_panels.resize(size_t(ceil_div(mc_most, mr)));
  for (int64_t jc = 0; jc < n; jc += kern.nc) {
    const int64_t nc = std::min<int64_t>(kern.nc, n - jc);
    const int64_t n_panels = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < k; pc += kb) {
      const int64_t kc = std::min<int64_t>(kb, k - pc);
      const int64_t kp = packed_k(kern, kc);  // panel length (kc, or kc padded for K-pairs/tiles)
      // Later k blocks accumulate into what the first one wrote.
      const float beta = pc == 0 ? g.beta : 1.0f;
      const bool epilogue = g.has_epilogue() && pc + kc >= k;  // the tile is final after this block
      for (int64_t ic = 0; ic < m; ic += mc_most) {
        const int64_t mc = std::min<int64_t>(mc_most, m - ic);
        const int64_t m_panels = ceil_div(mc, mr);
        const int64_t ldp = copied_ld(kc);
        for (int64_t ip = 0; ip < m_panels && (!direct || copied); ++ip) {
          const int rows = int(std::min<int64_t>(mr, mc - ip * mr));
          const int64_t row0 = ic + ip * mr;
          auto pack = [&](P* dst) {
            if constexpr (std::is_same<Kern, GemmKernel>::value) {
              if (copied) {
                for (int r = 0; r < rows; ++r) {
                  const float* src = a + (row0 + r) * g.lda + pc;
                  std::copy(src, src + kc, dst + r * ldp);
                }
                return;
              }
            }
            kern.pack_a(a, g.lda, g.trans_a, row0, rows, pc, kc, mr, dst);
          };
          P* own = abuf + ip * mr * (copied ? ldp : kp);
          a_panels[size_t(ip)] = share.a.get(pc / kb, share.row_panel0 + row0 / mr, own, pack);
        }
        // Macro-kernel: ir innermost so one B micro-panel stays in L1 while
        // the A micro-panels stream from L2. The B block is packed lazily,
        // one micro-panel right before its first use (ic == 0), and reused by
        // the later ic blocks, so its loads from memory overlap with the
        // arithmetic instead of forming a packing phase of their own. A/B on
        // 64 x 4096 x 25088 (VGG fc6, 2 threads, 3 alternating runs): 47.9 ->
        // 49.7 GFLOP/s median, within this machine's noise; never slower.
        // With A read in place, the micro-tiles of one panel also fetch the
        // next panel's source into L2 (LinePrefetch, a line a k step), so its
        // packing (or, B in place, its loads) read L2 instead of waiting on
        // memory, and with one ic block the panels take two slots in turn
        // (below). Packed B^T panels, Zen 4, 2026-12-05,
        // in-process alternating blocks, GFLOP/s without -> with, 2 threads:
        // 64x4096x25088 (B^T) 171 -> 187 and 174 -> 187 (oneDNN 178),
        // 64x4096x4096 (B^T) 173 -> 183 and 168 -> 183, 256x1000x4096 (B^T)
        // 177 -> 183, 256x196x2304 183 -> 190, 512x49x4608 165 -> 177, the
        // other report shapes within 2%; one thread 64x4096x25088 (B^T)
        // 79 -> 89 (oneDNN 91; the slots alone 84, the prefetch alone 77:
        // the panel's stores missed to memory); session 12's burst of
        // prefetches at a micro-tile's start measured 0.94-1.01 here. B read
        // in place took that burst before; spread out instead, 2 threads,
        // 128x784x1152 194 -> 201, 201 -> 207 and 183 -> 202, 64x50176x576
        // 144 -> 168, 148 -> 180 and 170 -> 183, 64x3136x576 190 -> 196 and
        // 185 -> 196, 384x169x2304 194 -> 200, 1024^3 185 -> 189 and
        // 192 -> 198, 2048^3 and 512^3 within 1%; one thread 64x3136x576
        // 102 -> 105. A share of more lines than k steps (one or two
        // micro-tiles a panel) is still fetched at once (prefetch_all).
        for (int64_t jr = 0; jr < n_panels; ++jr) {
          const int cols = int(std::min<int64_t>(nr, nc - jr * nr));
          // With one ic block a panel serves only this jr step: two slots
          // in turn keep it in L1/L2 instead of a fresh stretch of a kc x nc
          // block (its stores then miss all the way to memory).
          P* bp = bbuf + (one_ic_block ? jr % 2 : jr) * nr * kp;
          // Full-width panels of a B read in place are not packed; the right
          // edge always is (its panel is zero-padded to nr columns).
          const bool b_here = b_in_place && cols == nr;
          // The micro-tiles fetch into L2 what the next jr step reads from
          // memory: the next panel of a B read in place (a full-width one:
          // the right edge is packed from what these panels fetched), or the
          // source of the next panel to pack (packed at ic == 0).
          const int next_cols = int(std::min<int64_t>(nr, nc - (jr + 1) * nr));
          const bool next_here = b_in_place && jr + 1 < n_panels && next_cols == nr;
          const bool next_packed = !b_in_place && ic == 0 && jr + 1 < n_panels;
          const bool fetch_next = next_here || next_packed;
          if constexpr (std::is_same<Kern, GemmKernel>::value) {
            const int dots = cols < nr ? dot_edge_cols(kern, amode, cols) : 0;
            if (dots > 0) {
              // The first `bcast` columns (none, or a whole vector) run the
              // broadcast kernel on the packed panel; the last `dots` the dot
              // tiles, k-contiguous: B^T's rows, or copied after the B block.
              const int bcast = cols - dots;
              const int64_t col0 = jc + jr * nr;
              float* edge = bbuf + b_block_floats(k, n, kern, amode);
              if (ic == 0 && bcast > 0) kern.pack_b(b, g.ldb, g.trans_b, pc, kc, col0, bcast, nr, bp);
              if (ic == 0 && !g.trans_b) copy_edge_columns(b + pc * g.ldb + col0 + bcast, g.ldb, kc, dots, edge);
              const float* bt = g.trans_b ? b + (col0 + bcast) * g.ldb + pc : edge;
              for (int64_t ir = 0; ir < m_panels; ++ir) {
                const int rows = int(std::min<int64_t>(mr, mc - ir * mr));
                const int64_t row0 = ic + ir * mr;
                float* ct = c + row0 * g.ldc + col0;
                const float* ap = copied ? a_panels[size_t(ir)] : a + row0 * g.lda + pc;
                const int64_t lda = copied ? ldp : g.lda;
                if (bcast > 0)
                  micro_tile_direct(kern, *direct, kc, ap, lda, bp, nr, ct, g.ldc, rows, bcast, g.alpha, beta, nullptr);
                right_edge_dots(*kern.dot, kc, ap, lda, bt, g.trans_b ? g.ldb : kc, ct + bcast, g.ldc, rows, dots,
                                g.alpha, beta);
                if (epilogue) apply_epilogue(g, ct, g.ldc, row0, col0, rows, cols);
              }
              continue;
            }
          }
          if (ic == 0 && !b_here) kern.pack_b(b, g.ldb, g.trans_b, pc, kc, jc + jr * nr, cols, nr, bp);
          for (int64_t ir = 0; ir < m_panels; ++ir) {
            const int rows = int(std::min<int64_t>(mr, mc - ir * mr));
            float* ct = c + (ic + ir * mr) * g.ldc + jc + jr * nr;
            bool done = false;
            if constexpr (std::is_same<Kern, GemmKernel>::value) {
              if (direct) {
                const float* ap = copied                    ? a_panels[size_t(ir)]
                                  : amode == AMode::columns ? a + pc * g.lda + ic + ir * mr
                                                            : a + (ic + ir * mr) * g.lda + pc;
                const float* bq = b_here ? b + pc * g.ldb + jc + jr * nr : bp;
                const LinePrefetch pf =
                    fetch_next ? panel_source_share(g, b, pc, kc, jc + (jr + 1) * nr, next_cols, ir, m_panels)
                               : LinePrefetch{};
                const bool stream = fetch_next && pf.lines <= kc;  // one line a k step
                if (fetch_next && !stream) prefetch_all(pf);
                micro_tile_direct(kern, *direct, kc, ap, copied ? ldp : g.lda, bq, b_here ? g.ldb : nr, ct, g.ldc, rows,
                                  cols, g.alpha, beta, stream ? &pf : nullptr);
                done = true;
              }
            }
            if (!done) micro_tile(kern, kp, a_panels[size_t(ir)], bp, ct, g.ldc, rows, cols, g.alpha, beta);
            if (epilogue)
              apply_epilogue(g, c + (ic + ir * mr) * g.ldc + jc + jr * nr, g.ldc, ic + ir * mr, jc + jr * nr, rows,
                             cols);
          }
        }
      }
    }
  }
}

template <class Kern, class S>
void gemm_serial_buffered(const GemmArgs& g, const S* a, const S* b, float* c, int64_t m, int64_t n, const Kern& kern,
                          AMode amode, bool b_in_place, const TileShare<typename Kern::packed_t>& share) {
  using P = typename Kern::packed_t;
  thread_local ScratchBuffer tb, ta;
  P* bbuf = reinterpret_cast<P*>(tb.get(b_block_floats(g.k, n, kern, amode) + edge_floats(g.k, kern, amode)));
  P* abuf = reinterpret_cast<P*>(ta.get(a_block_floats(m, g.k, kern, amode)));
  thread_begin(kern);
  gemm_serial(g, a, b, c, m, n, kern, bbuf, abuf, amode, b_in_place, share);
  thread_end(kern);
}

// Every tile packs its own rows of A and columns of B, so a tm x tn grid packs
// k * (tn * m + tm * n) floats where one product packs k * (m + n). A packed
// float costs about kPackFmas FMAs of micro-kernel time: process CPU time at 2
// threads (2026-12-04, 30 interleaved calls, load ~7) of the im2col GEMM of
// VGG-16 conv5_1, 512x196x4608, grew 14.7 -> 16.4 -> 17.6 ms for 2 / 4 / 8
// tiles (0.009 / 0.013 / 0.018 packed floats per FMA): ~0.7 ns per packed
// float against 0.032 ns per FMA (63 GFLOP/s a core). On 256x196x2304 and
// 512x49x4608 the same grids cost 4.6 / 4.7 / 5.4 and 4.8 / 4.6 / 5.2 ms.
constexpr double kPackFmas = 22.0;

// Where part `i` of `parts` of `count` rows (or columns) starts: at a
// multiple of `unit` (whole panels), near i * count / parts, every part at
// least one panel. Parts of equal panel counts (ceil(count / unit / parts)
// each) left the last one short: 1024 rows are 86 panels of 12 (the last of
// 4 rows), as 8 x 11 panels the threads' shares came to 528 and 496 rows;
// 324 columns are 11 panels of 32 (the last of 4), as 6 + 5 panels one
// thread took 192 columns and the other 132 (now 160 and 164). A boundary
// moves up a panel once it is a quarter of one past: the earlier tiles go to
// the threads that start first (the caller, before its workers wake), so
// 128 rows split 72 + 56, not 60 + 68 (128^3: 157 vs 150-153 GFLOP/s).
// Zen 4, 2 threads, 2026-12-05, in-process alternating blocks, GFLOP/s
// equal panel counts -> this: 64x324x4096 (B^T) 158 -> 183, 160 -> 188 and
// 153 -> 178, 64x3136x576 196 -> 206, 200 -> 208 and 200 -> 206, 1024^3
// 194 -> 195, 203 -> 207, 176 -> 185 and 163 -> 169, 256x1000x4096 (B^T)
// 171 -> 176; the other report shapes within 2%.
inline int64_t part_start(int64_t i, int64_t count, int64_t unit, int64_t parts) {
  if (i >= parts) return count;
  const int64_t panels = ceil_div(count, unit);
  const int64_t near = (4 * i * count + 3 * parts * unit) / (4 * parts * unit);  // floor(x + 3/4) panels
  return std::min(count, std::clamp(near, i, panels - (parts - i)) * unit);
}

// The largest of those parts.
inline int64_t largest_part(int64_t count, int64_t unit, int64_t parts) {
  int64_t most = 0;
  for (int64_t i = 0; i < parts; ++i)
    most = std::max(most, part_start(i + 1, count, unit, parts) - part_start(i, count, unit, parts));
  return most;
}

// Time to run the tiles of a tm x tn grid of m x n on nt threads that each
// take the next tile when free, as parallel_tiles hands them out, with time
// proportional to a tile's elements. Estimated with tiles of equal panel
// counts, as the grid's constants (kPackFmas, kInPlacePass) were measured:
// with part_start's tiles the estimate chose other grids that ran slower
// (256^3 2x2 -> 4x1, 197 -> 182 GFLOP/s); the chosen grid's tiles then run
// as part_start splits it.
double tiles_makespan(int64_t m, int64_t n, int mr, int nr, int64_t tm, int64_t tn, int nt) {
  // Reused: this runs for every candidate grid of every call (1-2% of a
  // 128^3 product's time when it allocated per call and divided per tile).
  thread_local std::vector<double> free_at, cols;
  free_at.assign(size_t(std::max(1, nt)), 0.0);
  cols.resize(size_t(tn));
  const int64_t rows_per = ceil_div(ceil_div(m, mr), tm) * mr, cols_per = ceil_div(ceil_div(n, nr), tn) * nr;
  for (int64_t j = 0; j < tn; ++j) cols[size_t(j)] = double(std::max<int64_t>(0, std::min(cols_per, n - j * cols_per)));
  for (int64_t i = 0; i < tm; ++i) {
    const double rows = double(std::max<int64_t>(0, std::min(rows_per, m - i * rows_per)));
    for (int64_t j = 0; j < tn; ++j) *std::min_element(free_at.begin(), free_at.end()) += rows * cols[size_t(j)];
  }
  return *std::max_element(free_at.begin(), free_at.end());
}

// ---- B read in place (GemmDirectA with ldb = B's row stride) ---------------
// With A not packed (a_mode) and op(B) = B, a full-width B micro-panel is nr
// floats of kc rows ldb apart, which the micro-kernels can load where they
// lie. Packed, B is a copy from memory with no arithmetic to hide its misses,
// repaid only by the micro-tiles that reuse the panel: a tile of at most MC
// rows (one ic block) uses each panel for at most MC / MR micro-tiles, right
// after packing it, so there B is read in place, and each micro-tile fetches
// its share of the next panel's rows into L2 meanwhile (gemm_serial), so the
// first micro-tile of a panel does not wait on memory. Taller tiles pack B,
// whose panels then serve every ic block (read in place there instead:
// within 2% either way on the squares, 256x3136x2304 and 384x2048x1000).
// Zen 4, 2026-12-05, in-process alternating blocks,
// GFLOP/s packed -> in place, 2 threads (1 thread): 64x3136x576 176 -> 193
// (81 -> 102; oneDNN 194 (91)), 128x784x1152 204 -> 215 (97 -> 107),
// 64x50176x576 141 -> 162 (75 -> 81), 256^3 201 -> 215, 100x1000x2048
// (A copied) 165 -> 184 (88 -> 101), 64x3136x1024 165 -> 191 (73 -> 96).
// Without the prefetch (session 9) the first micro-tiles waited: one thread
// 64x3136x576 78 -> 56.
template <class Kern>
bool b_readable_in_place(const GemmArgs& g, const Kern& kern, AMode amode) {
  const GemmDirectA* d = direct_of(kern, amode);
  return d && !g.trans_b;
}
inline bool reads_b_in_place(const GemmKernel& kern) { return kern.b_in_place; }
template <class S, class P>
inline bool reads_b_in_place(const GemmKernelOf<S, P>&) {
  return false;
}
// ... and read in place by tiles of `tile_rows` rows.
// b_readable_in_place does not look at GemmKernel::b_in_place, so on AVX2 the
// grid estimate (b_packings) counts B as read in place where it is packed.
// Left so on purpose: with the flag folded in, 2 threads, in-process
// alternating blocks (9 rounds, 2026-12-05, AVX2 Zen KVM guest), GFLOP/s
// estimate-as-is -> folded: 128^3 59 -> 43-58 (bimodal across processes),
// 256^3 64-66 -> 58-71, 512x196x4608 60-63 -> 53-61.
template <class Kern>
bool b_in_place(bool readable, const Kern& kern, int64_t tile_rows) {
  return readable && reads_b_in_place(kern) && tile_rows <= kern.mc;
}

// A's packing for grid_for, in units of packing A once, for a grid of q
// tile columns of cols_per columns: each tile column packs (or copies) its
// rows of A again, q in all. Read in place, nothing is packed; each tile
// column's first pass still reads A from memory again, counted as a
// quarter of a packing for tiles of kWideCols columns or more (as much as a
// packing for narrower ones). Counted whole, the grid split M where
// splitting N costs nothing for A but each tile row packs B again: VGG-16
// conv3_2 as a GEMM, 256x3136x2304 (B 28 MB), 2 threads, 2x4 tiles -> 1x8,
// Zen 4, 2026-12-05, in-process alternating blocks, eight runs: +2 to +11%
// (170-190 -> 180-193 GFLOP/s). It also turns 512^3 from 2x4 into 4x2
// (three runs: 0.97-1.04, the noise). A quarter for narrower tiles too
// moved 128^3 (1x2 -> 2x1: 1-8% slower in three runs), 256^3, 256x196x2304
// and 384x169x2304; counting shared panels of A (shared_a_panels) once
// moved the squares and FC layers 1-2% slower: neither kept.
constexpr int64_t kWideCols = 256;
constexpr double kInPlacePass = 0.25;

double a_packings(AMode amode, int64_t q, int64_t cols_per) {
  return a_read_in_place(amode) && cols_per >= kWideCols ? kInPlacePass * double(q) : double(q);
}

// B's packing for grid_for, in units of packing B once, for r tile rows of
// rows_per rows: each tile row packs its columns of B again, r in all; read
// in place, each still reads them from memory, counted as kInPlacePass of a
// packing. Counted whole, the grid kept tiles taller than MC that pack B:
// 2 threads, GFLOP/s, 256x3136x2304 192 -> 203, 200x2100x300 192 -> 214,
// 300x2000x500 209 -> 213, 1024^3 194 -> 203 (A copied), others within 2%;
// counted free, 256^3 went 214 -> 194 (2x2 -> 4x1).
double b_packings(bool readable, int64_t r, int64_t rows_per, int64_t mc) {
  return readable && rows_per <= mc ? kInPlacePass * double(r) : double(r);
}

// Splits C into a tm x tn grid of panel-aligned tiles, at least `target`
// of them where the panels allow, each run as a sub-product with its own
// packing buffers and no barrier: threads take tiles from an atomic counter
// (parallel_tiles), so on a busy machine a descheduled thread delays only the
// tile it holds, and an idle one takes the rest. With about 4 tiles per
// thread that tile is 1/8 of a 2-thread call instead of half of it.
// Tiles are panel-aligned, so every element is computed by the same
// micro-kernel call sequence whatever the grid: results are bitwise
// independent of the thread count.
//
// Among the grids with enough tiles, the one with the least estimated time
// on nt threads (FMAs per k step): the tiles handed out in order to the first
// free thread (tiles_makespan; tiles are whole panels, so a narrow edge makes
// them unequal: N = 81 is panels of 32, 32 and 17 columns, and split in two
// across N one thread gets 64 columns, the other 17; split across M, 36 and
// 28 rows), plus the redundant packing (splitting N makes every tile column
// pack its rows of A again, a_packings; splitting M, its columns of B,
// b_packings), shared by the threads.
// 64x81x4096 (B^T), 2 threads, Zen 4, 2026-12-04: 98-100 -> 120-122 GFLOP/s
// (split across N before, across M now); other shapes within the noise.
template <class Kern>
void grid_for(int64_t m, int64_t n, int64_t target, int nt, const Kern& kern, AMode amode, bool b_direct, int64_t* tm,
              int64_t* tn) {
  const int64_t m_panels = ceil_div(m, kern.mr), n_panels = ceil_div(n, kern.nr);
  target = std::min(target, m_panels * n_panels);
  *tm = 1;
  *tn = std::min(n_panels, target);
  double best = 1e300;
  for (int64_t r = 1; r <= std::min(target, m_panels); ++r) {
    const int64_t q = std::min(n_panels, ceil_div(target, r));
    if (r * q < target) continue;
    const double makespan = tiles_makespan(m, n, kern.mr, kern.nr, r, q, nt);
    const double a_pack = a_packings(amode, q, ceil_div(n_panels, q) * kern.nr);
    const double b_pack = b_packings(b_direct, r, ceil_div(m_panels, r) * kern.mr, kern.mc);
    const double packing = kPackFmas * (a_pack * double(m) + b_pack * double(n)) / nt;
    if (makespan + packing < best) {
      best = makespan + packing;
      *tm = r;
      *tn = q;
    }
  }
}

// Tiles handed out per thread: enough that one late thread costs little,
// few enough that the redundant packing stays small.
constexpr int kTilesPerThread = 4;

// Redundant packing a finer grid may add, as a fraction of the arithmetic
// (by the kPackFmas estimate, which overstates it: packing's loads overlap
// the micro-kernels of the tile before). 0.10 -> 0.20, 2 threads, Zen 4,
// 2026-12-04, medians of 5 alternating processes, quiet, GFLOP/s: 512x196x
// 4608 160 -> 169 (2 tiles -> 6), 64x128x9216 (B^T) 162 -> 177, 64x324x4096
// (B^T) 154 -> 163, the other grids it changes within 3%; next to a spinning
// process 512x196x4608 took 12.0 -> 8.4 ms (one thread: 10.1), where its
// 2 tiles left the caller waiting for the worker's tile on a shared core.
constexpr double kMaxExtraPacking = 0.20;

// Tiles for nt threads: up to kTilesPerThread each (more tiles let the other
// threads take over from one the OS has descheduled), fewer when the grid's
// redundant packing would cost more than kMaxExtraPacking of the arithmetic
// (mid-size products with a long k: conv layers as GEMMs), never fewer than
// one per thread.
template <class Kern>
int64_t tile_target(int64_t m, int64_t n, int nt, const Kern& kern) {
  for (int64_t per = kTilesPerThread; per > 1; --per) {
    int64_t tm, tn;
    // A counted as packed whatever a_mode: the tile count keeps the
    // estimate it was measured with; a_mode only shapes the grid.
    grid_for(m, n, nt * per, nt, kern, AMode::packed, false, &tm, &tn);
    const double extra = kPackFmas * (double(tn - 1) / double(n) + double(tm - 1) / double(m));
    if (extra <= kMaxExtraPacking) return nt * per;
  }
  return nt;
}

// The panel-aligned thread grid of one m x n product (see grid_for): tile
// (ti, tj) is rows [row0(ti), row0(ti + 1)) x columns [col0(tj), col0(tj + 1)).
struct TileGrid {
  int64_t m = 0, n = 0;
  int mr = 1, nr = 1;
  int64_t tm = 1, tn = 1;              // tiles down and across
  int64_t rows_per = 0, cols_per = 0;  // rows / columns of C of the largest tile
  int64_t tiles() const { return tm * tn; }
  int64_t row0(int64_t ti) const { return part_start(ti, m, mr, tm); }
  int64_t col0(int64_t tj) const { return part_start(tj, n, nr, tn); }
};

template <class Kern>
TileGrid tile_grid(int64_t m, int64_t n, int64_t target, int nt, const Kern& kern, AMode amode, bool b_direct) {
  TileGrid t;
  t.m = m;
  t.n = n;
  t.mr = kern.mr;
  t.nr = kern.nr;
  grid_for(m, n, target, nt, kern, amode, b_direct, &t.tm, &t.tn);
  t.rows_per = largest_part(m, kern.mr, t.tm);
  t.cols_per = largest_part(n, kern.nr, t.tn);
  return t;
}

// Most elements the slots of a call take (a packed copy of A, a little
// more); beyond, every tile packs its own panels.
constexpr int64_t kMaxSharedElems = int64_t(8) << 20;  // 32 MiB of float32

// Elements a slot takes: a panel, packing's slack (kPackSlack) inside it, to
// a whole number of cache lines.
template <class P>
int64_t slot_elems(int64_t panel_elems) {
  return round_up(panel_elems + kPackSlack, 64 / int64_t(sizeof(P)));
}

// A's shared panels for one product split into `grid` (empty where no two
// tiles need the same panels, tiles are narrow, A is read in place, or A is
// too large), in the calling thread's buffers, reused from call to call.
template <class Kern, class P = typename Kern::packed_t>
SharedPanels<P> shared_a_panels(const GemmArgs& g, const Kern& kern, const TileGrid& grid, AMode amode) {
  thread_local ScratchBuffer data;
  thread_local std::unique_ptr<std::atomic<uint8_t>[]> state;
  thread_local int64_t capacity = 0;
  const int64_t kb = k_block(kern, g.k, amode);
  SharedPanels<P> sp;
  // packed panels, or MR rows copied at copied_ld(kc) <= kc + 31
  sp.slot_elems = slot_elems<P>((packed_k(kern, kb) + 32) * kern.mr);
  sp.panels = ceil_div(g.m, kern.mr);
  const int64_t slots = ceil_div(g.k, kb) * sp.panels;
  if (grid.tn < 2 || grid.cols_per < kShareMinCols || a_read_in_place(amode) || slots * sp.slot_elems > kMaxSharedElems)
    return SharedPanels<P>{};
  sp.data = reinterpret_cast<P*>(data.get(size_t(ceil_div(slots * sp.slot_elems * int64_t(sizeof(P)), 4))));
  if (slots > capacity) {
    state.reset(new std::atomic<uint8_t>[size_t(slots)]);
    capacity = slots;
  }
  for (int64_t i = 0; i < slots; ++i) state[i].store(kSlotEmpty, std::memory_order_relaxed);
  sp.state = state.get();
  return sp;
}

// Tile `t` of `grid` over one C, on the calling thread: `sum` products
// (operands stride_a / stride_b apart) added into it in order, the first
// with g.beta and the others with beta 1: per element the same micro-kernel
// calls as `sum` GEMM calls one after the other.
template <class Kern, class S>
void run_tile(const GemmArgs& g, const S* a, const S* b, float* c, const TileGrid& grid, int64_t t, int64_t sum,
              const Kern& kern, AMode amode, bool b_in_place, TileShare<typename Kern::packed_t> share) {
  const int64_t ti = t / grid.tn, tj = t % grid.tn;
  const int64_t r0 = grid.row0(ti), r1 = grid.row0(ti + 1);
  const int64_t c0 = grid.col0(tj), c1 = grid.col0(tj + 1);
  if (r1 <= r0 || c1 <= c0) return;
  GemmArgs gi = g;
  if (gi.bias_row) gi.bias_row += r0;  // the epilogue's vectors from this tile's first row / column
  if (gi.bias_col) gi.bias_col += c0;
  share.row_panel0 = r0 / kern.mr;  // where the tile's rows sit among the shared panels
  GemmArgs plain = gi;              // the products before the last of a sum: no epilogue yet
  plain.bias_row = plain.bias_col = nullptr;
  plain.relu = false;
  for (int64_t i = 0; i < sum; ++i) {
    if (i > 0) gi.beta = plain.beta = 1.0f;
    // Offsets into op(A) rows and op(B) columns.
    const S* ai = a + i * g.stride_a;
    const S* bi = b + i * g.stride_b;
    const S* a_sub = g.trans_a ? ai + r0 : ai + r0 * g.lda;
    const S* b_sub = g.trans_b ? bi + c0 * g.ldb : bi + c0;
    gemm_serial_buffered(i + 1 < sum ? plain : gi, a_sub, b_sub, c + r0 * g.ldc + c0, r1 - r0, c1 - c0, kern, amode,
                         b_in_place, share);
  }
}

// The operands as the kernel's source type (float32 a/b, or bf16 a16/b16).
inline const float* a_of(const GemmArgs& g, const float*) { return g.a; }
inline const float* b_of(const GemmArgs& g, const float*) { return g.b; }
inline const uint16_t* a_of(const GemmArgs& g, const uint16_t*) { return g.a16; }
inline const uint16_t* b_of(const GemmArgs& g, const uint16_t*) { return g.b16; }

// ---- Dot products for y = x W^T with a small side (GemmKernel::dot) ------
// Both operands run along k (A not transposed, B transposed), so packing
// either into panels is a transpose; with few rows (a minibatch of 64) or
// few columns (10 classes) each packed float serves too few FMAs to repay
// it. The dot tiles read both in place. With op(B) = B and a few columns
// (N <= GemmDot::max_narrow: x w for a column or two of w) the broadcast
// tiles run a whole vector of lanes for them; B^T (n x k, small beside the
// m n k FMAs) is copied first and the same dot tiles run.
// Thresholds per ISA (GemmDot max_rows / max_cols / max_narrow, measured in
// the ISA's file). AVX-512's 16 rows or 32 columns: one core, Zen 4, dot tiles vs
// packed 12x32 (2026-12-04, medians of 3x5 blocks), GFLOP/s: 64x10x500 48 vs
// 25, 64x16x1024 72 vs 39, 64x32x1024 78 vs 68, 8x1000x2048 74 vs 44,
// 16x1000x2048 66 vs 61; but 32x1000x2048 68 vs 71, 64x81x4096 64 vs 71,
// 64x324x4096 56 vs 78 (8 vector loads per 16 FMAs and a horizontal sum per
// element cap the tiles near 60% of the FMA peak, so they win only where
// packing is the larger cost).
constexpr int64_t kDotKc = 1024;  // k block: a tile's nr rows of B (16 KiB) stay in L1
constexpr int64_t kDotRows = 64;  // rows of C per tile: 64 rows of A x kc (256 KiB) in L2

inline const GemmDot* dot_of(const GemmKernel& kern) { return kern.dot; }
template <class S, class P>
inline const GemmDot* dot_of(const GemmKernelOf<S, P>&) {
  return nullptr;
}

template <class Kern>
bool use_dot(const GemmArgs& g, const Kern& kern) {
  const GemmDot* d = dot_of(kern);
  if (!d || g.trans_a || g.batch != 1) return false;
  if (g.trans_b) return g.m <= d->max_rows || g.n <= d->max_cols;
  return g.n <= d->max_narrow;
}

// Rows [r0, r1) x columns [c0, c1) of one product: k in even blocks of at
// most kDotKc (a split that depends on k alone), B's rows block by block so
// they stay in L1 while A's rows stream past; the epilogue at the end.
void dot_block(const GemmArgs& g, const GemmDot& d, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const float *a = g.a, *b = g.b;
  float* c = g.c;
  const int64_t kb = even_block(g.k, kDotKc);
  for (int64_t pc = 0; pc < g.k; pc += kb) {
    const int64_t kc = std::min(kb, g.k - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;
    for (int64_t j = c0; j < c1; j += d.nr)
      for (int64_t i = r0; i < r1; i += d.mr)
        d.tile(kc, a + i * g.lda + pc, g.lda, b + j * g.ldb + pc, g.ldb, c + i * g.ldc + j, g.ldc, g.alpha, beta,
               int(std::min<int64_t>(d.mr, r1 - i)), int(std::min<int64_t>(d.nr, c1 - j)));
  }
  if (g.has_epilogue()) apply_epilogue(g, c + r0 * g.ldc + c0, g.ldc, r0, c0, r1 - r0, c1 - c0);
}

// The product split into row blocks of kDotRows and about
// kTilesPerThread * nt column blocks (multiples of d.nr), handed out
// dynamically. Each element's arithmetic does not depend on its block, so
// results are bitwise independent of the thread count. op(B) = B (a narrow
// B, use_dot) is copied k-contiguous first; one row of C runs the ISA's
// 1-row tile where it has one.
void gemm_dot(const GemmArgs& given, const GemmDot& tiles, int nt) {
  GemmArgs g = given;
  GemmDot d = tiles;
  if (g.m == 1 && tiles.row_tile) {  // a matrix-vector product: the ISA's 1-row tile
    d.tile = tiles.row_tile;
    d.mr = 1;
    d.nr = tiles.row_nr;
  }
  if (!g.trans_b) {  // a few columns of B (use_dot): their k-contiguous copy
    thread_local ScratchBuffer buffer;
    float* bt = buffer.get(size_t(g.n * g.k));
    copy_edge_columns(g.b, g.ldb, g.k, int(g.n), bt);
    g.b = bt;
    g.ldb = g.k;
    g.trans_b = true;
  }
  const int64_t tm = ceil_div(g.m, kDotRows);
  const int64_t want = nt > 1 ? ceil_div(int64_t(nt) * kTilesPerThread, tm) : 1;
  const int64_t col_blocks = ceil_div(g.n, d.nr);
  const int64_t tn = std::max<int64_t>(1, std::min(want, col_blocks));
  auto tile = [&](int64_t t) {
    const int64_t ti = t / tn, tj = t % tn;
    const int64_t r0 = ti * kDotRows, r1 = std::min(g.m, r0 + kDotRows);
    const int64_t c0 = part_start(tj, g.n, d.nr, tn), c1 = part_start(tj + 1, g.n, d.nr, tn);
    if (c1 > c0) dot_block(g, d, r0, r1, c0, c1);
  };
  parallel_tiles(tm * tn, nt, tile);  // in order on the caller when nt <= 1
}

// ---- A read in place (GemmKernel::direct_a) --------------------------------
// With op(A) = A (not transposed), the micro-kernels can broadcast A straight
// from its rows, as oneDNN's brgemm does, instead of transposing its rows
// into packed panels first. Packing A is paid by every tile of the thread
// grid again (4 tiles a thread split N, so A is packed 4-8 times), which
// costs most on products with few rows. A/B, A packed vs in place, Zen 4,
// 2026-12-04, medians of 5 alternating processes, GFLOP/s, 2 threads:
// 128^3 113 -> 158, 256^3 177 -> 190, 64x3136x576 131 -> 165, 128x784x1152
// 166 -> 191, 256x196x2304 169 -> 192, 384x169x2304 176 -> 193, 64x1000x2048
// (B^T) 158 -> 173, 64x128x9216 (B^T) 135 -> 151; one thread 384x169x2304
// 80 -> 97, 256x196x2304 86 -> 95, never slower. But with at most 3 panels
// of columns and a long k (512x64x4608 156 -> 144, 64x81x4096 118 -> 110,
// 512x49x4608 112 -> 109) A is read from L3 through 12 row streams that the
// first pass does not hide: those copy A first (kDirectMinPanels), as do
// A's whose MR rows lda apart share too few L1 sets (lda a multiple of 1024
// floats puts all 12 in one set of an 8-way L1: every broadcast would miss).
// Two sets of 6 rows each (lda an odd multiple of 512) read in place (at
// most half the MR rows in one set; AVX2's 6 rows: 3): Zen 4,
// 2 threads, 2026-12-05, in-process alternating blocks, GFLOP/s copied ->
// in place: 512x196x4608 153-173 -> 174-190, 128x196x4608 116 -> 149,
// 256x784x4608 148 -> 169, 512^3 188 -> 196, 1536^3 195 -> 205,
// 256x1000x1536 (B^T) 161 -> 177, 64x1000x512 (B^T) 160 -> 169; all 12 in
// one set stay copied: in place there 1024^3 195 -> 164, 256x4096x4096
// (B^T) 192 -> 161, 50x1000x2048 (B^T) 147 -> 124.
// Copied: each tile copies its rows of the k block, unchanged, into a buffer
// with a stride of an odd number of cache lines (copied_ld), a plain copy
// where packing was a transpose; then the same in-place kernels. Against
// packing, same A/B, 2 threads: 64x128x9216 (B^T, lda 9216) 153 -> 177,
// 256x4096x4096 (B^T) 188 -> 195, 1024^3, 2048^3, 512x64x4608, 64x4096x4096
// within 2%; one thread within 1%. So A is packed only when transposed
// (op(A) = A^T: its panels are plain row copies already).
constexpr int64_t kDirectMinPanels = 4;

// Most of `mr` rows lda floats apart that fall in one set of a 64-set L1
// with 64-byte lines (Zen 4: 32 KiB 8-way; Sapphire Rapids: 48 KiB 12-way).
int rows_per_l1_set(int64_t lda, int mr) {
  int count[64] = {};
  int most = 0;
  for (int i = 0; i < mr; ++i) most = std::max(most, ++count[(i * lda * int64_t(sizeof(float)) / 64) % 64]);
  return most;
}

// op(A) = A^T read in place (AMode::columns): a micro-tile reads MR
// contiguous floats of A's row p at each k step, rows lda apart, so a run
// of k steps must spread over the L1 sets as A's rows do above: at most
// kMaxColumnStepsPerL1Set of kColumnSteps consecutive k steps in one set.
// Zen 4, 2 threads, 2026-12-05, in-process alternating blocks, GFLOP/s
// packed -> in place: the transposed product of 512x49x4608 (A' = B,
// lda 49) 146 -> 162, of 512x49x2304 127 -> 148 (one thread +2-3%);
// op(A) = A^T with lda 64 (64x3136x576) 167 -> 197, 256 (256x3136x2304)
// 176 -> 195, 500 (500x800x64) 181 -> 199, 768 (768x1024x512) 174 -> 196,
// 128 (128x3136x576) 182 -> 190; but lda 512 (16 steps in 2 sets:
// 512x3136x576) 186 -> 161, 1024 (1024^3) 187 -> 173, 4096 (4096x4096x64)
// 155 -> 143: those stay packed.
constexpr int kColumnSteps = 16;
constexpr int kMaxColumnStepsPerL1Set = 4;

template <class Kern>
AMode a_mode(const GemmArgs& g, const Kern& kern) {
  if constexpr (!std::is_same<Kern, GemmKernel>::value) {
    return AMode::packed;  // the bfloat16 kernels read packed panels only
  } else {
    const int64_t panels = ceil_div(g.n, kern.nr);
    if (kern.direct_max_panels > 0 && panels > kern.direct_max_panels) return AMode::packed;
    if (g.trans_a)
      return kern.direct_at && rows_per_l1_set(g.lda, kColumnSteps) <= kMaxColumnStepsPerL1Set ? AMode::columns
                                                                                               : AMode::packed;
    if (!kern.direct_a) return AMode::packed;
    if (panels >= kDirectMinPanels && rows_per_l1_set(g.lda, kern.mr) <= kern.mr / 2) return AMode::in_place;
    return kern.copy_crowded_a ? AMode::copied : AMode::packed;
  }
}

// ---- The transposed product ----------------------------------------------
// Register tiles are whole vectors of columns: with N = 49 (ResNet-50's 7x7
// layers as GEMMs) the right edge of 17 columns runs 32 lanes, so 64 columns
// of work for 49. C^T = op(B)^T op(A)^T has those 49 as rows, which the
// edge-row kernels take exactly. It runs into a buffer that is then added
// into C transposed (and the epilogue applied): one pass over C, small
// beside k >= kTransposeMinK FMAs an element. Chosen by shape alone, so
// results stay independent of the thread count.
// Zen 4, 2026-12-04, medians of 5-7 alternating processes, GFLOP/s, 2
// threads (1 thread): 512x49x4608 112 -> 146 (60 -> 79), 512x49x2304
// 128 -> 143 (64 -> 81), 256x49x2304 108 -> 114, 64x81x4096 (B^T)
// 115 -> 123 (70 -> 78), 64x49x1024 (B^T) 75 -> 86.
constexpr int64_t kTransposeMinK = 128;
constexpr double kTransposeGain = 0.85;  // transpose when it saves >= 15% of the tile work
constexpr int64_t kTransposeRows = 64;   // rows of C a thread adds back at a time

// Columns of tile work for n columns of C: the right-edge kernels run whole
// vectors (nr / 2 lanes: two vectors a tile row), others a whole tile.
inline int64_t padded_cols(const GemmKernel& kern, int64_t n) {
  return round_up(n, kern.right_cols ? kern.nr / 2 : kern.nr);
}

inline bool use_transposed(const GemmArgs& g, const GemmKernel& kern) {
  return g.k >= kTransposeMinK &&
         double(g.n) * double(padded_cols(kern, g.m)) < kTransposeGain * double(g.m) * double(padded_cols(kern, g.n));
}
template <class S, class P>
inline bool use_transposed(const GemmArgs&, const GemmKernelOf<S, P>&) {
  return false;
}

template <class Kern>
void gemm_blis(const GemmArgs& g, const Kern& kern);

// C = act(alpha op(A) op(B) + beta C + bias) through T = alpha op(B)^T op(A)^T.
void gemm_transposed(const GemmArgs& g, const GemmKernel& kern, int nt) {
  const int64_t products = g.sum_batch ? 1 : g.batch, mn = g.m * g.n;
  thread_local ScratchBuffer buffer;
  float* t = buffer.get(size_t(products * mn));
  GemmArgs gt = g;
  gt.m = g.n;
  gt.n = g.m;
  gt.a = g.b;
  gt.lda = g.ldb;
  gt.trans_a = !g.trans_b;
  gt.stride_a = g.stride_b;
  gt.b = g.a;
  gt.ldb = g.lda;
  gt.trans_b = !g.trans_a;
  gt.stride_b = g.stride_a;
  gt.c = t;
  gt.ldc = g.m;
  gt.stride_c = mn;
  gt.beta = 0.0f;
  gt.bias_row = gt.bias_col = nullptr;
  gt.relu = false;
  gemm_blis(gt, kern);
  // Back into C on the same threads, while the pool's workers are still
  // polling (a serial pass here let them fall asleep before the next call:
  // 512x49x4608 scaled 1.4x from 1 to 2 threads).
  const int64_t blocks = ceil_div(g.m, kTransposeRows);
  parallel_tiles(products * blocks, nt, [&](int64_t b) {
    const int64_t p = b / blocks, i0 = (b % blocks) * kTransposeRows, i1 = std::min(g.m, i0 + kTransposeRows);
    float* c = g.c + p * g.stride_c;
    const float* tp = t + p * mn;
    for (int64_t i = i0; i < i1; ++i) {
      float* row = c + i * g.ldc;
      // beta C + T as the micro-kernels form it (one fused multiply-add).
      for (int64_t j = 0; j < g.n; ++j)
        row[j] = g.beta == 0.0f ? tp[j * g.m + i] : std::fma(g.beta, row[j], tp[j * g.m + i]);
    }
    if (g.has_epilogue()) apply_epilogue(g, c + i0 * g.ldc, g.ldc, i0, 0, i1 - i0, g.n);
  });
}

// ---- k in two groups (small C, long k) ---------------------------------------
// With few rows and columns (y = x W^T on a minibatch of 64: 64 x 128 x 9216)
// the grid has few tiles across C, and each tile packs or copies its share
// of A and B again (1 x 2 tiles: A copied twice); more tiles cost more
// packing. Split along k instead, no operand is packed twice: k falls into
// kKGroups equal runs, each a product of its own (group 0 into C with alpha
// and beta, the others into buffers, each with its own k blocks), and
// C += buffer 1 + buffer 2 ... in that order, then the epilogue. The groups
// depend on the shape alone, so results stay bitwise independent of the
// thread count (each group's tiles as any grid's); they are within rounding
// of the ungrouped sum, not bitwise.
// Zen 4, 2026-12-05, in-process alternating blocks, GFLOP/s 2 threads,
// without -> 2 groups: 64x128x9216 (B^T) 179 -> 188 (oneDNN 188),
// 64x81x4096 (B^T, its transposed product 81 x 64) 159 -> 170, 64x324x4096
// (B^T) 180 -> 186, 256x196x2304 209 -> 213, 50x1000x2048 (B^T) 175 -> 180,
// 512x49x4608 174 -> 176; one thread within 1% (64x128x9216 91.9 vs 91.2).
// Per call, 64x128x9216: the two tiles ran 800-834 us each, from 1 us after
// the call began. 4 and 8 groups measured 178 and 173 on 64x128x9216 (more
// k blocks start cold); next to a spinning process all three ran as fast as
// without groups (87-92). Larger C (64x4096x4096 (B^T): 183 -> 180) has
// tiles enough without.
constexpr int64_t kKGroups = 2;
constexpr int64_t kKGroupsMaxElems = int64_t(1) << 16;  // elements of C
constexpr int64_t kKGroupsMinK = 2048;
constexpr int64_t kKGroupsAddRows = 16;  // rows of C a thread adds up at a time
// Groups start at multiples of 16 k steps (64 bytes of a row), as equal as
// that allows: k / 2 each, whatever the k block (groups of whole k blocks
// were 5 + 4 blocks of 1024 for k = 9216: one tile ran 875 us, the other 690).
constexpr int64_t kKGroupsUnit = 16;

bool use_k_groups(const GemmArgs& g) {
  return g.batch == 1 && !g.is_bf16() && g.m * g.n <= kKGroupsMaxElems && g.k >= kKGroupsMinK;
}

void gemm_k_groups(const GemmArgs& g, const GemmKernel& kern, int nt) {
  const int64_t mn = g.m * g.n;
  thread_local ScratchBuffer buffer;
  float* partial = buffer.get(size_t((kKGroups - 1) * mn));
  const AMode amode = a_mode(g, kern);
  auto group_args = [&](int64_t i) {
    GemmArgs gi = g;
    const int64_t k0 = part_start(i, g.k, kKGroupsUnit, kKGroups);
    gi.k = part_start(i + 1, g.k, kKGroupsUnit, kKGroups) - k0;
    gi.a = g.trans_a ? g.a + k0 * g.lda : g.a + k0;
    gi.b = g.trans_b ? g.b + k0 : g.b + k0 * g.ldb;
    if (i > 0) {
      gi.c = partial + (i - 1) * mn;
      gi.ldc = g.n;
      gi.beta = 0.0f;
    }
    gi.bias_row = gi.bias_col = nullptr;
    gi.relu = false;
    return gi;
  };
  const bool b_direct = b_readable_in_place(g, kern, amode);
  const int64_t target = nt > 1 ? ceil_div(tile_target(g.m, g.n, nt, kern), kKGroups) : 1;
  const TileGrid grid = tile_grid(g.m, g.n, target, nt, kern, amode, b_direct);
  const bool b_tiles = b_in_place(b_direct, kern, grid.rows_per);
  parallel_tiles(kKGroups * grid.tiles(), nt, [&](int64_t t) {
    const GemmArgs gi = group_args(t / grid.tiles());
    run_tile(gi, gi.a, gi.b, gi.c, grid, t % grid.tiles(), 1, kern, amode, b_tiles, {});
  });
  const int64_t blocks = ceil_div(g.m, kKGroupsAddRows);
  parallel_tiles(blocks, nt, [&](int64_t blk) {
    const int64_t i0 = blk * kKGroupsAddRows, i1 = std::min(g.m, i0 + kKGroupsAddRows);
    for (int64_t i = i0; i < i1; ++i) {
      float* row = g.c + i * g.ldc;
      for (int64_t q = 1; q < kKGroups; ++q) {
        const float* part = partial + (q - 1) * mn + i * g.n;
        for (int64_t j = 0; j < g.n; ++j) row[j] += part[j];
      }
    }
    if (g.has_epilogue()) apply_epilogue(g, g.c + i0 * g.ldc, g.ldc, i0, 0, i1 - i0, g.n);
  });
}

template <class Kern>
void gemm_blis(const GemmArgs& g, const Kern& kern) {
  using S = typename Kern::src_t;
  const S* ga = a_of(g, static_cast<const S*>(nullptr));
  const S* gb = b_of(g, static_cast<const S*>(nullptr));
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (g.k == 0 || g.alpha == 0.0f) {
    for (int64_t i = 0; i < (g.sum_batch ? 1 : g.batch); ++i) {
      scale_c(g.c + i * g.stride_c, g.ldc, g.m, g.n, g.beta);
      if (g.has_epilogue()) apply_epilogue(g, g.c + i * g.stride_c, g.ldc, 0, 0, g.m, g.n);
    }
    return;
  }
  // `products` C matrices, each the sum of `sum` products (sum_batch: one C).
  const int64_t products = g.sum_batch ? 1 : g.batch, sum = g.sum_batch ? g.batch : 1;
  // Thread count from the whole call's work: no team for microseconds.
  const int all = g.num_threads > 0 ? g.num_threads : get_num_threads();
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k) * double(g.batch);
  const int nt = int(std::min<int64_t>(all, std::max<int64_t>(1, int64_t(flops / kMinFlopsPerThread))));
  if (use_dot(g, kern)) {
    gemm_dot(g, *dot_of(kern), nt);
    return;
  }
  if constexpr (std::is_same<Kern, GemmKernel>::value) {
    if (use_transposed(g, kern)) {
      gemm_transposed(g, kern, nt);
      return;
    }
    if (use_k_groups(g)) {
      gemm_k_groups(g, kern, nt);
      return;
    }
  }
  const AMode amode = a_mode(g, kern);
  const bool b_direct = b_readable_in_place(g, kern, amode);
  const TileGrid whole = tile_grid(g.m, g.n, 1, 1, kern, amode, b_direct);
  using P = typename Kern::packed_t;
  const bool b_whole = b_in_place(b_direct, kern, g.m);
  auto product = [&](int64_t p, const TileGrid& grid, int64_t t, bool b_here, const TileShare<P>& share) {
    run_tile(g, ga + p * g.stride_a, gb + p * g.stride_b, g.c + p * g.stride_c, grid, t, sum, kern, amode, b_here,
             share);
  };
  if (nt <= 1) {
    for (int64_t p = 0; p < products; ++p) product(p, whole, 0, b_whole, {});
    return;
  }
  if (products >= int64_t(nt) * kTilesPerThread) {
    // Many products: one per tile, handed out dynamically.
    parallel_tiles(products, nt, [&](int64_t p) { product(p, whole, 0, b_whole, {}); });
    return;
  }
  // Few products: each split into a grid and all their tiles in one loop,
  // one join per call instead of one per product.
  const TileGrid grid =
      tile_grid(g.m, g.n, ceil_div(tile_target(g.m, g.n, nt, kern), products), nt, kern, amode, b_direct);
  TileShare<P> share;  // slots are numbered by panel: one product's only
  if (products == 1 && sum == 1) share.a = shared_a_panels(g, kern, grid, amode);
  const bool b_tiles = b_in_place(b_direct, kern, grid.rows_per);
  parallel_tiles(products * grid.tiles(), nt,
                 [&](int64_t t) { product(t / grid.tiles(), grid, t % grid.tiles(), b_tiles, share); });
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
  auto rows = [&](auto fn) {  // on the tile pool (core/parallel.h), 6 bytes a float moved
    parallel_units(g.batch * g.m, 6 * g.batch * mn, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t i = r / g.m, row = r % g.m;
        fn(g.c16 + i * g.stride_c + row * g.ldc, tmp.data() + i * mn + row * g.n);
      }
    });
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
  kern.kc_copied = 0;  // the k block is the caller's, whatever a_mode
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
