// AVX-512 VPOPCNTDQ binary kernels: vpopcntq counts each 64-bit lane of
// x XOR w directly; 8 words per zmm, masked loads for the last partial vector.
// NOT RUN HERE: the development machine (AMD Zen 3) has no AVX-512; compiled
// with -mavx512vpopcntdq and tested where the CPU has it.
#include <immintrin.h>

#include "ops/binary/binary_kernels.h"

namespace dlcore {
namespace {

struct VpopcntPop {
  template <int J>
  static void count(const uint64_t* x, const uint64_t* const* w, int64_t nw, uint64_t* cnt) {
    __m512i acc[J];
    for (int j = 0; j < J; ++j) acc[j] = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 8 <= nw; i += 8) {
      const __m512i xv = _mm512_loadu_si512(x + i);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        acc[j] = _mm512_add_epi64(acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(xv, _mm512_loadu_si512(w[j] + i))));
    }
    if (i < nw) {
      const __mmask8 m = __mmask8((1u << (nw - i)) - 1u);
      const __m512i xv = _mm512_maskz_loadu_epi64(m, x + i);
      for (int j = 0; j < J; ++j)
        acc[j] =
            _mm512_add_epi64(acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(xv, _mm512_maskz_loadu_epi64(m, w[j] + i))));
    }
    for (int j = 0; j < J; ++j) cnt[j] += uint64_t(_mm512_reduce_add_epi64(acc[j]));
  }
  static void count4(const uint64_t* x, const uint64_t* w0, const uint64_t* w1, const uint64_t* w2, const uint64_t* w3,
                     int64_t nw, uint64_t* cnt) {
    const uint64_t* w[4] = {w0, w1, w2, w3};
    count<4>(x, w, nw, cnt);
  }
  static uint64_t count1(const uint64_t* x, const uint64_t* w, int64_t nw) {
    uint64_t c = 0;
    count<1>(x, &w, nw, &c);
    return c;
  }
};

// Convolution micro-kernel (binary_kernels.h): 16 pixels (two zmm of 8 words) x 4 channels, each
// channel's word broadcast; vpopcntq counts whole 64-bit lanes, so no byte counters to flush.
struct VpopcntConvUk {
  static constexpr int MR = 16, NR = 4, kParts = 1, kWRep = 1;
  static void split(uint64_t v, uint64_t* parts) { parts[0] = v; }
  static void store(float* y, const int32_t* c, int32_t n, float sc, float bi) { binary_store_mr<MR>(y, c, n, sc, bi); }
  static void store_adj(float* y, const int32_t* c, const int32_t* n, float sc, float bi) {
    binary_store_adj_mr<MR>(y, c, n, sc, bi);
  }
  static void run(const uint64_t* xp, const uint64_t* wp, int64_t k, int32_t* cnt) {
    __m512i acc[2][NR];
    for (int j = 0; j < NR; ++j) acc[0][j] = acc[1][j] = _mm512_setzero_si512();
    for (int64_t q = 0; q < k; ++q) {
      const __m512i x0 = _mm512_loadu_si512(xp + q * MR), x1 = _mm512_loadu_si512(xp + q * MR + 8);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        const __m512i w = _mm512_set1_epi64(static_cast<long long>(wp[q * NR + j]));
        acc[0][j] = _mm512_add_epi64(acc[0][j], _mm512_popcnt_epi64(_mm512_xor_si512(x0, w)));
        acc[1][j] = _mm512_add_epi64(acc[1][j], _mm512_popcnt_epi64(_mm512_xor_si512(x1, w)));
      }
    }
    for (int j = 0; j < NR; ++j)
      for (int v = 0; v < 2; ++v)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(cnt + j * MR + 8 * v), _mm512_cvtepi64_epi32(acc[v][j]));
  }
};

}  // namespace

void binary_conv2d_avx512vpopcnt(const BinaryConvArgs& a) { binary_conv2d_impl<VpopcntConvUk>(a); }
void binary_gemm_avx512vpopcnt(const BinaryGemmArgs& a) { binary_gemm_impl<VpopcntPop>(a); }

}  // namespace dlcore
