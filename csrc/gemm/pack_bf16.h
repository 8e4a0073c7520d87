// Packing of bfloat16 operands, compiled once per ISA (included from the
// ukernel_bf16*.cpp files after pack_kernels.h, in an anonymous namespace).
//
//   * converting packers: bf16 -> float32 into the float32 panel layouts of
//     pack_kernels.h (A: kc columns of mr floats; B: kc rows of nr floats),
//     so the float32 micro-kernels run unchanged;
//   * pairing packers: bf16 panels with k grouped in runs (K-pairs for
//     vdpbf16ps and AMX's B, 32-element rows for AMX's A), zero-padded to the
//     run length so every micro-kernel step is whole.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/bf16.h"
#include "gemm/pack_kernels.h"

namespace dlcore {
namespace {

// ---- converting -------------------------------------------------------------

// `rows` (<= 32) strided bf16 rows, kc long, into interleaved float32 panel
// order: converted 64 columns at a time into a float block on the stack, then
// moved by the float32 interleave (8x8 register transposes where AVX is on).
DLCORE_INLINE void interleave_rows_bf16(const uint16_t* src, int64_t lds, int rows, int64_t kc, float* dst, int ld) {
  constexpr int64_t kChunk = 64;
  alignas(64) float buf[32 * kChunk];
  for (int64_t p0 = 0; p0 < kc; p0 += kChunk) {
    const int64_t w = std::min(kChunk, kc - p0);
    for (int r = 0; r < rows; ++r) bf16_to_f32_row(src + r * lds + p0, w, buf + r * kChunk);
    interleave_rows(buf, kChunk, rows, w, dst + p0 * ld, ld);
  }
}

inline void pack_a_bf16_cvt(const uint16_t* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0,
                            int64_t kc, int mr, float* dst) {
  zero_partial_panel(dst, mr, rows, kc);
  if (trans_a)  // op(A)(i, p) = A[p, i]: each k step is `rows` contiguous values
    for (int64_t p = 0; p < kc; ++p) bf16_to_f32_row(a + (col0 + p) * lda + row0, rows, dst + p * mr);
  else
    interleave_rows_bf16(a + row0 * lda + col0, lda, rows, kc, dst, mr);
}

inline void pack_b_bf16_cvt(const uint16_t* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc, int64_t col0,
                            int cols, int nr, float* dst) {
  zero_partial_panel(dst, nr, cols, kc);
  if (trans_b)  // op(B)(p, j) = B[j, p]
    interleave_rows_bf16(b + col0 * ldb + row0, ldb, cols, kc, dst, nr);
  else
    for (int64_t p = 0; p < kc; ++p) bf16_to_f32_row(b + (row0 + p) * ldb + col0, cols, dst + p * nr);
}

// ---- pairing ------------------------------------------------------------------

// op(X)(r, p) of a row-major X (r: row of op(X), p: column), or 0 outside
// [0, rows) x [0, kc): the zero padding of the panels.
struct OpView {
  const uint16_t* x;
  int64_t ld;
  bool trans;
  DLCORE_INLINE uint16_t at(int64_t r, int64_t p) const { return trans ? x[p * ld + r] : x[r * ld + p]; }
};

// A for vdpbf16ps: dst[(q*mr + i)*2 + e] = op(A)(row0+i, col0+2q+e).
inline void pack_a_bf16_pairs(const uint16_t* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0,
                              int64_t kc, int mr, uint16_t* dst) {
  const OpView v{trans_a ? a + col0 * lda + row0 : a + row0 * lda + col0, lda, trans_a};
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t q = 0; q < pairs; ++q)
    for (int i = 0; i < mr; ++i)
      for (int e = 0; e < 2; ++e) {
        const int64_t p = 2 * q + e;
        dst[(q * mr + i) * 2 + e] = (i < rows && p < kc) ? v.at(i, p) : uint16_t(0);
      }
}

// B as K-pairs (vdpbf16ps and AMX's B tiles), k padded to a multiple of KR:
// dst[(q*nr + j)*2 + e] = op(B)(row0+2q+e, col0+j).
template <int KR>
void pack_b_bf16_pairs(const uint16_t* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc, int64_t col0, int cols,
                       int nr, uint16_t* dst) {
  // op(B)(p, j): as an OpView over op(B)^T (row j, column p).
  const OpView v{trans_b ? b + col0 * ldb + row0 : b + row0 * ldb + col0, ldb, !trans_b};
  const int64_t pairs = (kc + KR - 1) / KR * KR / 2;
  for (int64_t q = 0; q < pairs; ++q)
    for (int j = 0; j < nr; ++j)
      for (int e = 0; e < 2; ++e) {
        const int64_t p = 2 * q + e;
        dst[(q * nr + j) * 2 + e] = (j < cols && p < kc) ? v.at(j, p) : uint16_t(0);
      }
}

// A for AMX: per block of 32 k, mr rows of 32 contiguous values (a tile row
// is 64 bytes): dst[(kb*mr + i)*32 + t] = op(A)(row0+i, col0+32kb+t).
inline void pack_a_bf16_amx(const uint16_t* a, int64_t lda, bool trans_a, int64_t row0, int rows, int64_t col0,
                            int64_t kc, int mr, uint16_t* dst) {
  const OpView v{trans_a ? a + col0 * lda + row0 : a + row0 * lda + col0, lda, trans_a};
  const int64_t blocks = (kc + 31) / 32;
  for (int64_t kb = 0; kb < blocks; ++kb)
    for (int i = 0; i < mr; ++i) {
      uint16_t* d = dst + (kb * mr + i) * 32;
      const int64_t live = (i < rows) ? std::min<int64_t>(32, kc - 32 * kb) : 0;
      if (!trans_a && live > 0) {
        std::memcpy(d, v.x + i * lda + 32 * kb, sizeof(uint16_t) * size_t(live));
      } else {
        for (int64_t t = 0; t < live; ++t) d[t] = v.at(i, 32 * kb + t);
      }
      for (int64_t t = std::max<int64_t>(live, 0); t < 32; ++t) d[t] = 0;
    }
}

}  // namespace
}  // namespace dlcore
