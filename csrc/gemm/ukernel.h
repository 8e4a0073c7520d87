// The register-blocked GEMM micro-kernel, written once for every vector type
// (simd::Scalar, simd::Avx2, simd::Avx512). Include only from ukernel_*.cpp.
#pragma once
#include "core/simd.h"
#include "gemm/blocksizes.h"

namespace dlcore {
namespace {

// Where a micro-kernel reads A's element (i, p) of its MR-row tile: a packed
// panel (a[p * MR + i]), A's rows in place (op(A) = A: a[i * lda + p]), or
// A's columns in place (op(A) = A^T, A stored k-major: a[p * lda + i], each
// k step's MR values contiguous). The same values in the same order, so the
// same result bit for bit.
enum class ASource { packed, rows, columns };

// The body of every tile: ROWS rows, NVU of the NV vectors of a row (NVU < NV
// at the right edge of C), the last stored under a mask of `tail` lanes when
// MASKED. B's packed panel is zero-padded, so its loads need no mask; per
// element, the arithmetic is the full tile's. A is read as AS says; B's k
// rows are ldb apart (b[p * ldb + j]): NR in a packed panel, or B's own row
// stride where a full-width panel is read in place. The same values in the
// same order, so the same result bit for bit.
// pf (direct kernels): lines fetched toward L2 meanwhile, one a k step
// (LinePrefetch); the loads and FMAs are the same with or without.
template <class V, int MR, int NV, int ROWS, int NVU, bool MASKED, ASource AS = ASource::packed>
DLCORE_INLINE void gemm_tile_body(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b,
                                  float* __restrict c, int64_t ldc, float alpha, float beta, int tail,
                                  int64_t ldb = NV * V::width, const LinePrefetch* pf = nullptr) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg acc[ROWS][NVU];
#pragma GCC unroll 16
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NVU; ++j) acc[i][j] = V::zero();

  // The prefetch stream: the line at `col` of row `pf_row`, `pf_left` to go,
  // one a k step (few registers: the FMA loop needs the rest).
  const char* pf_row = pf ? pf->first : nullptr;
  int64_t pf_left = pf ? pf->lines : 0, pf_col = 0;
  for (int64_t p = 0; p < k; ++p) {
    if (pf_left > 0) {
      __builtin_prefetch(pf_row + 64 * pf_col, 0, kPrefetchLocality);
      if (++pf_col == pf->row_lines) {
        pf_col = 0;
        pf_row += pf->ld_bytes;
      }
      --pf_left;
    }
    reg bv[NVU];
#pragma GCC unroll 4
    for (int j = 0; j < NVU; ++j) bv[j] = V::load(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
      reg av = V::set1(AS == ASource::rows ? a[i * lda] : a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NVU; ++j) acc[i][j] = V::fmadd(av, bv[j], acc[i][j]);
    }
    a += AS == ASource::rows ? 1 : AS == ASource::columns ? lda : MR;
    b += ldb;
  }

  // beta == 0: C is not read (it may hold NaN poison), a branch outside the loops.
  const reg va = V::set1(alpha), vb = V::set1(beta);
  auto put = [&](float* cp, reg v, bool last) __attribute__((always_inline)) {
    if (MASKED && last)
      V::store_partial(cp, v, tail);
    else
      V::store(cp, v);
  };
  auto get = [&](const float* cp, bool last)
                 __attribute__((always_inline)) { return MASKED && last ? V::load_partial(cp, tail) : V::load(cp); };
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NVU; ++j) put(c + i * ldc + j * W, V::mul(va, acc[i][j]), j == NVU - 1);
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NVU; ++j) {
        float* cp = c + i * ldc + j * W;
        put(cp, V::fmadd(vb, get(cp, j == NVU - 1), V::mul(va, acc[i][j])), j == NVU - 1);
      }
  }
}

// MR rows of C, NV vectors (NV * V::width columns) per row, all accumulators
// held in registers for the whole k loop: MR*NV accumulators + NV B vectors +
// 1 broadcast A value must fit the register file (16 ymm / 32 zmm).
// ROWS < MR: the bottom edge of C, the first ROWS rows of an MR-row panel
// written straight to C (see gemm_edge_rows); each row's arithmetic is the
// full tile's.
template <class V, int MR, int NV, int ROWS = MR>
void gemm_ukernel(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
                  float alpha, float beta) {
  gemm_tile_body<V, MR, NV, ROWS, NV, false>(k, a, 0, b, c, ldc, alpha, beta, V::width);
}

// The right edge of C: a full-height tile of cols < NR columns (N = 196 is
// 6 panels of 32 and one of 4). Only ceil(cols / W) vectors are computed and
// the last is stored under a mask, instead of a whole NR-wide tile into a
// buffer and a copy.
template <class V, int MR, int NV, ASource AS>
DLCORE_INLINE void gemm_right_body(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b,
                                   float* __restrict c, int64_t ldc, float alpha, float beta, int cols) {
  static_assert(NV <= 2, "add the NVU cases for wider tiles");
  if (cols <= V::width)
    gemm_tile_body<V, MR, NV, MR, 1, true, AS>(k, a, lda, b, c, ldc, alpha, beta, cols);
  else
    gemm_tile_body<V, MR, NV, MR, 2, true, AS>(k, a, lda, b, c, ldc, alpha, beta, cols - V::width);
}

template <class V, int MR, int NV>
void gemm_ukernel_right(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict c,
                        int64_t ldc, float alpha, float beta, int cols) {
  gemm_right_body<V, MR, NV, ASource::packed>(k, a, 0, b, c, ldc, alpha, beta, cols);
}

// The same three with A read in place (GemmDirectA), its rows or columns;
// the first two with B's rows ldb apart (a packed panel: ldb = NR) and a
// prefetch stream (LinePrefetch, or null).
template <class V, int MR, int NV, ASource AS, int ROWS = MR>
void gemm_ukernel_direct(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b, int64_t ldb,
                         float* __restrict c, int64_t ldc, float alpha, float beta, const LinePrefetch* pf) {
  gemm_tile_body<V, MR, NV, ROWS, NV, false, AS>(k, a, lda, b, c, ldc, alpha, beta, V::width, ldb, pf);
}

template <class V, int MR, int NV, ASource AS>
void gemm_ukernel_right_direct(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b,
                               float* __restrict c, int64_t ldc, float alpha, float beta, int cols) {
  gemm_right_body<V, MR, NV, AS>(k, a, lda, b, c, ldc, alpha, beta, cols);
}

// The table of one way of reading A in place (AS: rows or columns); R...:
// the bottom-edge row counts 1 .. MR - 1.
template <class V, int MR, int NV, ASource AS, int... R>
struct DirectA {
  static constexpr GemmUKernelDirect edge[] = {nullptr, &gemm_ukernel_direct<V, MR, NV, AS, R>...};
  static constexpr GemmDirectA kernels{&gemm_ukernel_direct<V, MR, NV, AS>, edge,
                                       &gemm_ukernel_right_direct<V, MR, NV, AS>};
};

// The "NT" layout (y = x W^T: rows of A and rows of B both run along k) as
// dot products, nothing packed: C[i][j] = alpha * a_i . b_j + beta * C[i][j]
// for i < rows <= MR, j < cols <= NR, a_i = a + i * lda, b_j = b + j * ldb.
// Each k step loads MR + NR vectors for MR * NR FMAs; one horizontal sum per
// element at the end. A missing row or column (rows < MR, cols < NR) reads
// row 0 again and is not stored, so every element's arithmetic is the same
// whatever tile it sits in. The k tail is a masked load.
template <class V, int MR, int NR>
void gemm_dot_tile(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b, int64_t ldb,
                   float* __restrict c, int64_t ldc, float alpha, float beta, int rows, int cols) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const float* ap[MR];
  const float* bp[NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) ap[i] = a + (i < rows ? i : 0) * lda;
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) bp[j] = b + (j < cols ? j : 0) * ldb;
  reg acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = V::zero();
  auto step = [&](int64_t p, int n) __attribute__((always_inline)) {
    reg av[MR], bv[NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) av[i] = n == W ? V::load(ap[i] + p) : V::load_partial(ap[i] + p, n);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) bv[j] = n == W ? V::load(bp[j] + p) : V::load_partial(bp[j] + p, n);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) acc[i][j] = V::fmadd(av[i], bv[j], acc[i][j]);
  };
  int64_t p = 0;
  for (; p + W <= k; p += W) step(p, W);
  if (p < k) step(p, int(k - p));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const float s = alpha * V::reduce_add(acc[i][j]);
      float* cp = c + i * ldc + j;
      *cp = beta == 0.0f ? s : s + beta * *cp;
    }
}

// Kernels for 1..MR-1 rows of an MR-row panel, indexed by the row count
// (entry 0 unused).
template <class V, int MR, int NV, int... R>
struct EdgeRows {
  static constexpr GemmUKernel table[] = {nullptr, &gemm_ukernel<V, MR, NV, R>...};
};

}  // namespace
}  // namespace dlcore
