// AVX2 binary kernels: popcount by the nibble table (vpshufb looks up the bit
// count of each 4-bit half of every byte), bytes summed across up to 31
// vectors before vpsadbw widens them to 64-bit counts (each byte holds at most
// 8 per vector: 31 * 8 = 248 < 256). The last partial vector is read with a
// masked load (dead lanes are 0 in both x and w, XOR 0, count 0).
#include <immintrin.h>

#include "ops/binary/binary_kernels.h"

namespace dlcore {
namespace {

inline __m256i popcount_bytes(__m256i v) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
  const __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  return _mm256_add_epi8(lo, hi);
}

inline __m256i tail_mask(int64_t words) {  // lanes [0, words) of 4 set
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(words), _mm256_setr_epi64x(0, 1, 2, 3));
}

inline __m256i load4(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i load4_masked(const uint64_t* p, __m256i mask) {
  return _mm256_maskload_epi64(reinterpret_cast<const long long*>(p), mask);
}

inline uint64_t hsum64(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return uint64_t(_mm_cvtsi128_si64(s)) + uint64_t(_mm_extract_epi64(s, 1));
}

constexpr int64_t kFlush = 31;  // vectors of byte counts summed before widening

struct Avx2Pop {
  template <int J>
  static void count(const uint64_t* x, const uint64_t* const* w, int64_t nw, uint64_t* cnt) {
    __m256i wide[J], bytes[J];
    for (int j = 0; j < J; ++j) wide[j] = bytes[j] = _mm256_setzero_si256();
    const __m256i zero = _mm256_setzero_si256();
    int64_t i = 0, since_flush = 0;
    for (; i + 4 <= nw; i += 4) {
      const __m256i xv = load4(x + i);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
        bytes[j] = _mm256_add_epi8(bytes[j], popcount_bytes(_mm256_xor_si256(xv, load4(w[j] + i))));
      if (++since_flush == kFlush) {
        for (int j = 0; j < J; ++j) {
          wide[j] = _mm256_add_epi64(wide[j], _mm256_sad_epu8(bytes[j], zero));
          bytes[j] = zero;
        }
        since_flush = 0;
      }
    }
    if (i < nw) {
      const __m256i mask = tail_mask(nw - i);
      const __m256i xv = load4_masked(x + i, mask);
      for (int j = 0; j < J; ++j)
        bytes[j] = _mm256_add_epi8(bytes[j], popcount_bytes(_mm256_xor_si256(xv, load4_masked(w[j] + i, mask))));
    }
    for (int j = 0; j < J; ++j) cnt[j] += hsum64(_mm256_add_epi64(wide[j], _mm256_sad_epu8(bytes[j], zero)));
  }
  static void count4(const uint64_t* x, const uint64_t* w0, const uint64_t* w1, const uint64_t* w2,
                     const uint64_t* w3, int64_t nw, uint64_t* cnt) {
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

void binary_conv2d_avx2(const BinaryConvArgs& a) { binary_conv2d_impl<Avx2Pop>(a); }
void binary_gemm_avx2(const BinaryGemmArgs& a) { binary_gemm_impl<Avx2Pop>(a); }

}  // namespace dlcore
