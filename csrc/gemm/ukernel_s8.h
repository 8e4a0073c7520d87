// The int8 GEMM micro-kernel and packing, written once (gemm/gemm_s8.h has
// the contract). Include only from ukernel_s8_*.cpp, each compiled with its
// ISA's flags. An ISA supplies an `Ops` struct:
//   reg              the vector type; `lanes` int32 outputs per register
//   zero(), load(p)  (lanes x 4 bytes of B), bcast(p) (4 bytes of A to every lane)
//   dot(acc, a, b)   acc + the sum over each lane's 4-byte (or 2 x int16) group of a*b, exact
//   loadc/storec/add for the int32 tile of C
#pragma once
#include <emmintrin.h>

#include <cstdint>
#include <cstring>

namespace dlcore {
namespace {

template <class Ops, int MR, int NV>
void ukernel_s8(int64_t steps, const void* a_, const void* b_, int32_t* __restrict c, int64_t ldc, bool accumulate) {
  using reg = typename Ops::reg;
  constexpr int W = Ops::lanes;
  constexpr int NR = NV * W;
  const uint8_t* a = static_cast<const uint8_t*>(a_);
  const uint8_t* b = static_cast<const uint8_t*>(b_);
  reg acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = Ops::zero();
  for (int64_t s = 0; s < steps; ++s) {
    reg bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = Ops::load(b + j * W * 4);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const reg av = Ops::bcast(a + i * 4);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = Ops::dot(acc[i][j], av, bv[j]);
    }
    a += MR * 4;
    b += NR * 4;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      int32_t* cp = c + i * ldc + j * W;
      Ops::storec(cp, accumulate ? Ops::add(Ops::loadc(cp), acc[i][j]) : acc[i][j]);
    }
}

// Packing. Quads: step g holds, per row, bytes k0+4g .. k0+4g+3 (one step per
// 4 k). Pairs (Wide): the same 4 k as two steps of two int16 each, widened
// (u8 zero-extended, s8 sign-extended) so vpmaddwd multiplies them exactly.
template <class T, class Out, bool Wide>
void pack_panel_s8(const T* src, int64_t ld, int64_t row0, int rows, int64_t k0, int64_t kc, int64_t k, int tile,
                   void* dst_) {
  const int64_t quads = (kc + 3) / 4;
  const int64_t kend = k0 + kc < k ? k0 + kc : k;
  const int64_t full = (kend - k0) / 4;  // quads with all four k inside the block
  Out* dst = static_cast<Out*>(dst_);
  int i0 = 0;
  if constexpr (!Wide) {
    // Four full rows at a time: 4 quads of each (16 bytes) are a 4 x 4
    // matrix of 32-bit quads, transposed with SSE2 unpacks into 4 steps of
    // 4 rows (the per-quad copies below cost more than the GEMM at small K).
    for (; i0 + 4 <= rows && i0 + 4 <= tile; i0 += 4) {
      const T* r0 = src + (row0 + i0) * ld + k0;
      const T* r1 = r0 + ld;
      const T* r2 = r1 + ld;
      const T* r3 = r2 + ld;
      int64_t g = 0;
      for (; g + 4 <= full; g += 4) {
        const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 4 * g));
        const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + 4 * g));
        const __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r2 + 4 * g));
        const __m128i a3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r3 + 4 * g));
        const __m128i t0 = _mm_unpacklo_epi32(a0, a1), t1 = _mm_unpacklo_epi32(a2, a3);
        const __m128i t2 = _mm_unpackhi_epi32(a0, a1), t3 = _mm_unpackhi_epi32(a2, a3);
        Out* d = dst + g * tile * 4 + i0 * 4;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + tile * 4), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * tile * 4), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 3 * tile * 4), _mm_unpackhi_epi64(t2, t3));
      }
      for (int q = 0; q < 4; ++q) {  // the remaining quads of these rows: the general path
        const T* row = src + (row0 + i0 + q) * ld + k0;
        for (int64_t h = g; h < quads; ++h) {
          Out v[4];
          for (int e = 0; e < 4; ++e) v[e] = (k0 + 4 * h + e < kend) ? Out(row[4 * h + e]) : Out(0);
          std::memcpy(dst + h * tile * 4 + (i0 + q) * 4, v, 4);
        }
      }
    }
  }
  // Row by row: each source row is contiguous along k; a quad is one 4-byte
  // copy (the common case), or a widening of 4 values (Wide).
  for (int i = i0; i < tile; ++i) {
    const T* row = i < rows ? src + (row0 + i) * ld + k0 : nullptr;
    for (int64_t g = 0; g < quads; ++g) {
      Out v[4];
      if (row && g < full) {
        if (!Wide) {
          std::memcpy(dst + g * tile * 4 + i * 4, row + 4 * g, 4);
          continue;
        }
        for (int q = 0; q < 4; ++q) v[q] = Out(row[4 * g + q]);
      } else {
        for (int q = 0; q < 4; ++q) v[q] = (row && k0 + 4 * g + q < kend) ? Out(row[4 * g + q]) : Out(0);
      }
      if (Wide) {
        Out* d0 = dst + (2 * g) * tile * 2 + i * 2;  // step 2g: (q0, q1); step 2g+1: (q2, q3)
        Out* d1 = d0 + tile * 2;
        d0[0] = v[0];
        d0[1] = v[1];
        d1[0] = v[2];
        d1[1] = v[3];
      } else {
        std::memcpy(dst + g * tile * 4 + i * 4, v, 4 * sizeof(Out));
      }
    }
  }
}

template <bool Wide>
void pack_a_s8(const uint8_t* a, int64_t lda, int64_t row0, int rows, int64_t k0, int64_t kc, int64_t k, int mr,
               void* dst) {
  if (Wide)
    pack_panel_s8<uint8_t, int16_t, true>(a, lda, row0, rows, k0, kc, k, mr, dst);
  else
    pack_panel_s8<uint8_t, uint8_t, false>(a, lda, row0, rows, k0, kc, k, mr, dst);
}

template <bool Wide>
void pack_b_s8(const int8_t* b, int64_t ldb, int64_t col0, int cols, int64_t k0, int64_t kc, int64_t k, int nr,
               void* dst) {
  if (Wide)
    pack_panel_s8<int8_t, int16_t, true>(b, ldb, col0, cols, k0, kc, k, nr, dst);
  else
    pack_panel_s8<int8_t, int8_t, false>(b, ldb, col0, cols, k0, kc, k, nr, dst);
}

}  // namespace
}  // namespace dlcore
