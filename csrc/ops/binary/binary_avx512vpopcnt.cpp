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
  template <int J>
  static void count_spans(const BinarySpan* spans, int64_t n, const uint64_t* w, int64_t wstride, uint64_t* cnt) {
    __m512i acc[J];
    for (int j = 0; j < J; ++j) acc[j] = _mm512_setzero_si512();
    for (int64_t s = 0; s < n; ++s) {
      const uint64_t* x = spans[s].x;
      const uint64_t* ws = w + spans[s].woff;
      const int64_t nw = spans[s].nw;
      int64_t i = 0;
      for (; i + 8 <= nw; i += 8) {
        const __m512i xv = _mm512_loadu_si512(x + i);
#pragma GCC unroll 4
        for (int j = 0; j < J; ++j)
          acc[j] = _mm512_add_epi64(
              acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(xv, _mm512_loadu_si512(ws + j * wstride + i))));
      }
      if (i < nw) {
        const __mmask8 m = __mmask8((1u << (nw - i)) - 1u);
        const __m512i xv = _mm512_maskz_loadu_epi64(m, x + i);
        for (int j = 0; j < J; ++j)
          acc[j] = _mm512_add_epi64(
              acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(xv, _mm512_maskz_loadu_epi64(m, ws + j * wstride + i))));
      }
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

}  // namespace

void binary_conv2d_avx512vpopcnt(const BinaryConvArgs& a) { binary_conv2d_impl<VpopcntPop>(a); }
void binary_gemm_avx512vpopcnt(const BinaryGemmArgs& a) { binary_gemm_impl<VpopcntPop>(a); }

}  // namespace dlcore
