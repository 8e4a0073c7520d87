// bfloat16 GEMM with AVX512-BF16 (vdpbf16ps: Cooper Lake, Sapphire Rapids,
// Zen 4): a 12 x 32 tile of float32 accumulators (24 zmm + 2 B vectors + 1
// broadcast of 32). Each vdpbf16ps lane j adds a[2q]*b[2q][j] +
// a[2q+1]*b[2q+1][j]: A and B are packed as K-pairs (pack_bf16.h).
// Compiled with the AVX512-BF16 flags only. NOT RUN HERE: the development
// machine (AMD Zen, AVX2) lacks AVX512-BF16; its tests skip with that reason.
#include <immintrin.h>

#include <cstring>

#include "gemm/blocksizes.h"
#include "gemm/pack_bf16.h"

namespace dlcore {
namespace {

// k: the padded panel length (even). Same contract as gemm_ukernel otherwise.
template <int MR, int NV>
void ukernel_dpbf16(int64_t k, const uint16_t* __restrict a, const uint16_t* __restrict b, float* __restrict c,
                    int64_t ldc, float alpha, float beta) {
  constexpr int NR = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t q = 0; q < k / 2; ++q) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = (__m512bh)_mm512_loadu_si512(b + j * 32);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, a + 2 * i, sizeof pair);
      const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
    }
    a += 2 * MR;
    b += 2 * NR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      float* cp = c + i * ldc + j * 16;
      __m512 r = _mm512_mul_ps(va, acc[i][j]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r);
      _mm512_storeu_ps(cp, r);
    }
}

}  // namespace

const GemmKernelBf16& gemm_kernel_bf16_avx512bf16() {
  // Not measured (no AVX512-BF16 here). KC = 384: a packed B micro-panel is
  // 384*32*2 B = 24 KiB, in a 32-48 KiB L1d beside the 9 KiB A micro-panel;
  // MC = 240: an A block is 240*384*2 B = 180 KiB of a 1-2 MiB L2.
  static const GemmKernelBf16 kernel{
      "gemm_bf16_avx512bf16_12x32", 12,      32,     240, 384, 3072, 2, &ukernel_dpbf16<12, 2>, &pack_a_bf16_pairs,
      &pack_b_bf16_pairs<2>,        nullptr, nullptr};
  return kernel;
}

}  // namespace dlcore
