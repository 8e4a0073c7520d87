// The micro-kernel contract and the cache-blocking parameters of each ISA.
//
// A micro-kernel computes one MR x NR tile of C from packed panels:
//   C[0:MR, 0:NR] = alpha * Apanel * Bpanel + beta * C      (beta == 0: C not read)
// Apanel is k columns of MR floats (element (i, p) at a[p*MR + i]);
// Bpanel is k rows of NR floats (element (p, j) at b[p*NR + j]).
// C is row-major with row stride ldc. Panels are zero-padded at the edges,
// so a micro-kernel always computes a full tile; the loops in gemm.cpp route
// partial tiles through a small buffer.
#pragma once
#include <cstdint>

namespace dlcore {

// Packing may write up to this many floats past a panel's end (zeros, see
// pack_kernels.h); every packing buffer is allocated with this slack.
constexpr int kPackSlack = 16;

// Packing (pack_kernels.h), and the loads ahead of a B read in place
// (gemm.cpp), prefetch into L2 (__builtin_prefetch locality 2: prefetcht1),
// not L1: the source is read once, and the L1 holds the micro-kernel's
// operands of the tile packed around it. One thread, Zen 4, 2026-12-04,
// medians of 3 alternating processes, vs L1 (prefetcht0), dlcore/oneDNN in
// the same run: 64x4096x25088 (B^T) 77 -> 83 GFLOP/s (0.83 -> 0.88),
// 256x4096x4096 (B^T) 94 -> 97, 50x1000x2048 (B^T) 80 -> 90, 64x3136x576
// 76 -> 81; two threads (5 runs) 0-6% faster on 9 report shapes. A longer
// distance (256 floats) measured no better.
constexpr int kPrefetchLocality = 2;

using GemmUKernel = void (*)(int64_t k, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta);
// C = alpha * A B^T + beta * C on a block of at most GemmDot::mr x nr
// elements, A's and B's rows both along k, read in place (gemm_dot_tile).
using GemmDotTile = void (*)(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                             float alpha, float beta, int rows, int cols);
struct GemmDot {
  GemmDotTile tile;
  int mr, nr;
  int max_rows, max_cols;  // gemm.cpp use_dot: y = x W^T with at most this many rows or columns
  int max_narrow;          // gemm.cpp use_dot: op(B) = B with at most this many columns (B^T copied)
  bool right_edges;        // gemm.cpp dot_edge_cols: a packed product's right edge as dot tiles
  // Optional: a 1 x row_nr tile for a product of one row (a matrix-vector
  // product: y = x W^T for one x), where the mr-row tile would repeat row 0.
  GemmDotTile row_tile = nullptr;
  int row_nr = 0;
};

// The same for a full-height tile of 0 < cols < nr columns (the right edge of C).
using GemmUKernelCols = void (*)(int64_t k, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                                 float beta, int cols);

// Packs rows [row0, row0+rows) x cols [col0, col0+kc) of op(A) into one
// mr-row micro-panel, or rows [row0, row0+kc) x cols [col0, col0+cols) of
// op(B) into one nr-column micro-panel; the rest of the panel is zeroed.
using GemmPackA = void (*)(const float* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0, int64_t kc,
                           int mr, float* dst);
using GemmPackB = void (*)(const float* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc, int64_t col0, int cols,
                           int nr, float* dst);

// Memory a direct micro-kernel (below) fetches toward L2 (kPrefetchLocality)
// while it computes, one 64-byte line a k step (gemm.cpp fetches a share of
// more lines than k steps at once instead): `lines` lines of rows
// `row_lines` lines long from `first`, ld_bytes apart. gemm.cpp points it at
// this micro-tile's share of what the next jr step reads from memory (the
// next B panel read in place, or the source of the next panel to pack), so
// that step reads L2 instead.
struct LinePrefetch {
  const char* first = nullptr;
  int64_t ld_bytes = 0;
  int64_t row_lines = 0;
  int64_t lines = 0;
};

// A read in place instead of packed: op(A) = A row-major, element (i, p) at
// a[i * lda + p], broadcast straight from its rows, or op(A) = A^T, element
// (i, p) at a[p * lda + i] (GemmKernel::direct_at; see gemm.cpp a_mode).
// B's k rows are ldb apart: nr for a packed panel, or B's own row stride
// for a full-width panel read in place (gemm.cpp b_in_place).
// pf: lines to prefetch meanwhile (LinePrefetch), or null.
using GemmUKernelDirect = void (*)(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                                   int64_t ldc, float alpha, float beta, const LinePrefetch* pf);
using GemmUKernelDirectCols = void (*)(int64_t k, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                                       float alpha, float beta, int cols);
struct GemmDirectA {
  GemmUKernelDirect full;              // mr x nr
  const GemmUKernelDirect* edge_rows;  // [r]: the first 0 < r < mr rows, full width
  GemmUKernelDirectCols right;         // full height, 0 < cols < nr, B packed (its zero-padded edge panel)
};

struct GemmKernel {
  using src_t = float;     // element type of A and B as the caller stores them
  using packed_t = float;  // element type of the packed panels
  const char* name;
  int mr, nr;      // register tile
  int mc, kc, nc;  // cache blocks: A block mc x kc (L2), B panel kc x nr (L1), B block kc x nc (L3)
  GemmUKernel ukernel;
  GemmPackA pack_a;  // packing compiled for the same ISA as the micro-kernel
  GemmPackB pack_b;
  // Optional: edge_rows[r] (0 < r < mr) computes the first r rows of a tile
  // straight into C, for the bottom edge of C (e.g. 128 = 21 * 6 + 2 rows),
  // instead of a full tile into a buffer and a copy. Null: the buffer path.
  const GemmUKernel* edge_rows = nullptr;
  // Optional: a full-height tile of fewer than nr columns straight into C
  // (masked stores), instead of a full tile into a buffer and a copy. Null:
  // the buffer path (AVX2: masked stores are microcoded on AMD).
  GemmUKernelCols right_cols = nullptr;
  // Optional: dot products for y = x W^T with few rows or columns (gemm.cpp
  // use_dot), where transposing the operands into panels costs more than
  // the register blocking saves.
  const GemmDot* dot = nullptr;
  // Optional: the same tiles reading A in place (gemm.cpp a_mode): its rows
  // where op(A) = A, its columns where op(A) = A^T (element (i, p) at
  // a[p * lda + i]: a k step's MR values are contiguous).
  const GemmDirectA* direct_a = nullptr;
  const GemmDirectA* direct_at = nullptr;
  // Optional: the k block where A's rows are copied (gemm.cpp a_mode,
  // AMode::copied), instead of kc; 0: kc. A copied block is a plain copy
  // in L2, not packed panels, so it does not bound the block as a packed A
  // does, and a longer one halves the passes over C (see the ISA's table).
  int kc_copied = 0;
  // Where A may be read in place (direct_a; gemm.cpp a_mode), the ISA's
  // measured limits: at most this many panels of nr columns in C (0: any;
  // past it packing A is spread over enough panels to cost less than the
  // row streams), and whether A's rows are copied where they cannot be read
  // in place (too few panels, rows crowding an L1 set) or packed instead.
  int direct_max_panels = 0;
  bool copy_crowded_a = true;
  // Full-width panels of op(B) = B read where they lie (gemm.cpp b_in_place).
  bool b_in_place = true;
};

// Each defined in its own translation unit, compiled with its own ISA flags.
const GemmKernel& gemm_kernel_ref();
const GemmKernel& gemm_kernel_avx2();
const GemmKernel& gemm_kernel_avx512();

// ---- The bfloat16 column -------------------------------------------------
// A and B are bfloat16 (uint16_t bits), C float32; the same loops (gemm.cpp)
// drive every one of these. Two kinds of packing:
//   * converting (packed_t = float): bf16 -> float32 while packing, then the
//     float32 micro-kernel of the ISA (exact: every bf16 is a float32, and the
//     products are formed in float32 as the bf16 instructions do);
//   * pairing (packed_t = bf16_t): panels keep bf16 and group k in runs of
//     `kr` (2: the K-pairs of vdpbf16ps; 32: an AMX tile row of 64 bytes),
//     zero-padded to a multiple of kr; the micro-kernel's k is that padded
//     length.
// `thread_begin/thread_end` run once per thread around its share of a call
// (AMX: load the tile configuration, release the tiles).
template <class Src, class Packed>
struct GemmKernelOf {
  using src_t = Src;
  using packed_t = Packed;
  const char* name;
  int mr, nr;
  int mc, kc, nc;
  int kr;  // packed panels hold k rounded up to a multiple of kr
  void (*ukernel)(int64_t k, const Packed* a, const Packed* b, float* c, int64_t ldc, float alpha, float beta);
  void (*pack_a)(const Src* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0, int64_t kc, int mr,
                 Packed* dst);
  void (*pack_b)(const Src* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc, int64_t col0, int cols, int nr,
                 Packed* dst);
  void (*thread_begin)();  // may be null
  void (*thread_end)();    // may be null
};
using GemmKernelBf16Cvt = GemmKernelOf<uint16_t, float>;  // converting
using GemmKernelBf16 = GemmKernelOf<uint16_t, uint16_t>;  // pairing

const GemmKernelBf16Cvt& gemm_kernel_bf16_ref();
const GemmKernelBf16Cvt& gemm_kernel_bf16_avx2();
const GemmKernelBf16Cvt& gemm_kernel_bf16_avx512();
const GemmKernelBf16& gemm_kernel_bf16_avx512bf16();  // vdpbf16ps; not run here (no AVX512-BF16)
const GemmKernelBf16& gemm_kernel_bf16_amx();         // AMX tiles; not run here (no AMX)

}  // namespace dlcore
