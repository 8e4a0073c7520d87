// Packing routines, compiled once per ISA (included from ukernel_*.cpp, in
// an anonymous namespace like the micro-kernels). Packing makes every
// micro-kernel load unit-stride and zero-pads the edges, so a micro-kernel
// never needs a remainder path. Layouts (blocksizes.h): an A micro-panel is
// kc columns of mr floats, a B micro-panel kc rows of nr floats.
//
// The transposed cases are the expensive ones: op(B) = B^T is the fully
// connected layer's y = x W^T, where packing all of W costs about as much as
// the arithmetic when the minibatch is small. Where AVX is compiled in they
// move 8x8 blocks through registers (8 loads, 24 shuffles, 8 stores) instead
// of one scattered store per float.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/simd.h"

namespace dlcore {
namespace {

// How far ahead packing prefetches its source: rows of copy_rows, floats
// along a row of interleave_rows (a prefetch may point past the operand:
// prefetches never fault).
constexpr int64_t kPrefetchRows = 16;
constexpr int64_t kPrefetchFloats = 64;
// Packing prefetches toward L2, not L1 (kPrefetchLocality, blocksizes.h).

#if defined(__AVX2__)
using simd::transpose8x8;  // core/simd.h

// transpose8x8 for fewer than 8 rows (an A panel has MR = 6): the rows go through
// an 8 x 8 block on the stack, zero-filled, so nothing past `rows` is read.
DLCORE_INLINE void transpose_few_rows(const float* src, int64_t lds, int rows, float* dst, int64_t ldd) {
  alignas(32) float block[64], out[64];
  for (int r = 0; r < 8; ++r)
    _mm256_store_ps(block + 8 * r, r < rows ? _mm256_loadu_ps(src + r * lds) : _mm256_setzero_ps());
  transpose8x8(block, 8, out, 8);
  // Full 8-float stores in ascending order: lanes past `rows` hold zeros and
  // land either in the panel's zero padding (ldd >= 8) or at the start of the
  // next row, which the next store (or the next k step) then overwrites.
  // The last one may reach 7 floats past the panel: packing buffers carry
  // kPackSlack floats of slack for it. (A scalar loop of `rows` copies
  // compiles to a memmove call per row; masked stores are microcoded on AMD.)
  for (int c = 0; c < 8; ++c) _mm256_storeu_ps(dst + c * ldd, _mm256_load_ps(out + 8 * c));
}
#endif

// dst[p * ld + i] = src[i * lds + p] for i < rows, p < kc: a strided gather
// of `rows` source rows into interleaved micro-panel order.
DLCORE_INLINE void interleave_rows(const float* src, int64_t lds, int rows, int64_t kc, float* dst, int ld) {
  int i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= rows; i += 8) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      for (int r = 0; r < 8; ++r) __builtin_prefetch(src + (i + r) * lds + p + kPrefetchFloats, 0, kPrefetchLocality);
      transpose8x8(src + i * lds + p, lds, dst + p * ld + i, ld);
    }
    for (; p < kc; ++p)
      for (int r = 0; r < 8; ++r) dst[p * ld + i + r] = src[(i + r) * lds + p];
  }
  // 1..7 rows left. The 8-wide stores of transpose_few_rows stay inside a
  // row's padding when i + 8 <= ld, or rewrite only the next row's start,
  // stored right after, when i == 0 and ld <= 8; otherwise copy scalars.
  if (i < rows && (i + 8 <= ld || (i == 0 && ld <= 8))) {
    const int left = rows - i;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) transpose_few_rows(src + i * lds + p, lds, left, dst + p * ld + i, ld);
    for (; p < kc; ++p)
      for (int r = 0; r < left; ++r) dst[p * ld + i + r] = src[(i + r) * lds + p];
    return;
  }
#endif
  for (; i < rows; ++i)
    for (int64_t p = 0; p < kc; ++p) dst[p * ld + i] = src[i * lds + p];
}

// dst[p * ld + j] = src[p * lds + j]: contiguous rows, copied as they are.
// Vector copies in line, not a memcpy call a row: a row is one panel width
// (32 or 16 floats), and the call cost 40% of the micro-kernel's time on
// 64x3136x576 (AVX-512, Zen 4, perf, 2026-12-04).
DLCORE_INLINE void copy_rows(const float* src, int64_t lds, int cols, int64_t kc, float* dst, int ld) {
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * lds;
    float* d = dst + p * ld;
    // Rows lds apart defeat the hardware prefetcher (one 128-byte piece a
    // page when lds is large); fetch kPrefetchRows rows ahead ourselves.
    __builtin_prefetch(s + kPrefetchRows * lds, 0, kPrefetchLocality);
    __builtin_prefetch(s + kPrefetchRows * lds + cols - 1, 0, kPrefetchLocality);
    int j = 0;
#if defined(__AVX2__)
    for (; j + 8 <= cols; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
#endif
    for (; j < cols; ++j) d[j] = s[j];
  }
}

// A partial panel is zeroed whole, before packing: one memset instead of kc
// tiny ones (the compiler turns a per-row tail loop into a memset call each).
DLCORE_INLINE void zero_partial_panel(float* dst, int ld, int live, int64_t kc) {
  if (live < ld) std::memset(dst, 0, sizeof(float) * size_t(ld) * size_t(kc));
}

void pack_a_panel_impl(const float* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0, int64_t kc,
                       int mr, float* dst) {
  zero_partial_panel(dst, mr, rows, kc);
  if (trans_a)  // op(A)(i, p) = A[p, i]: each k step is `rows` contiguous floats
    copy_rows(a + col0 * lda + row0, lda, rows, kc, dst, mr);
  else  // op(A)(i, p) = A[i, p]: rows of A become columns of the panel
    interleave_rows(a + row0 * lda + col0, lda, rows, kc, dst, mr);
}

void pack_b_panel_impl(const float* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc, int64_t col0, int cols,
                       int nr, float* dst) {
  zero_partial_panel(dst, nr, cols, kc);
  if (trans_b)  // op(B)(p, j) = B[j, p]
    interleave_rows(b + col0 * ldb + row0, ldb, cols, kc, dst, nr);
  else  // op(B)(p, j) = B[p, j]
    copy_rows(b + row0 * ldb + col0, ldb, cols, kc, dst, nr);
}

}  // namespace
}  // namespace dlcore
