// AVX2 peak probes: int8 by vpmaddubsw + vpmaddwd(ones) + vpaddd, int16 by
// vpmaddwd + vpaddd, binary by XOR + nibble-table popcount (vpshufb) + vpaddb or by one
// popcount(v XOR w) table per weight nibble (vpshufb + vpaddb). The float32
// reference is core/peak.cpp's FMA probe.
#include <immintrin.h>

#include "ops/quant/peak_lowbit.h"
#include "ops/quant/peak_lowbit_kernel.h"

namespace dlcore {
namespace {

double first_lane(__m256i v) { return double(_mm256_extract_epi32(v, 0)); }

}  // namespace

double peak_loop_avx2_maddubs(int64_t iterations, double* macs) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i r = peak_chains(iterations, _mm256_set1_epi8(3), _mm256_set1_epi8(1), [&](__m256i acc, __m256i b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(b, b), ones));
  });
  *macs = double(iterations) * kPeakChains * 32;
  return first_lane(r);
}

double peak_loop_avx2_madd16(int64_t iterations, double* macs) {
  __m256i r = peak_chains(iterations, _mm256_set1_epi16(3), _mm256_set1_epi16(1),
                          [](__m256i acc, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(b, b)); });
  *macs = double(iterations) * kPeakChains * 16;
  return first_lane(r);
}

double peak_loop_avx2_popcnt(int64_t iterations, double* macs) {
  const __m256i table =
      _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f), x = _mm256_set1_epi8(0x5a);
  __m256i r = peak_chains(iterations, _mm256_set1_epi8(0x33), _mm256_setzero_si256(), [&](__m256i acc, __m256i w) {
    const __m256i v = _mm256_xor_si256(x, w);
    const __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_and_si256(v, low)),
                                      _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
    return _mm256_add_epi8(acc, c);
  });
  *macs = double(iterations) * kPeakChains * 256;
  return first_lane(r);
}

// The nibble-table form of binary_conv2d_avx2_nibble: the table of a weight nibble w holds
// popcount(v XOR w) for v = 0..15, so one vpshufb by 32 pixels' nibbles and one vpaddb count 4 bits
// of 32 products (128 binary multiply-adds per 2 instructions, twice the XOR + popcount loop's).
double peak_loop_avx2_nibble(int64_t iterations, double* macs) {
  const __m256i table =
      _mm256_setr_epi8(2, 1, 3, 2, 1, 0, 2, 1, 3, 2, 4, 3, 2, 1, 3, 2, 2, 1, 3, 2, 1, 0, 2, 1, 3, 2, 4, 3, 2, 1, 3, 2);
  __m256i r = peak_chains(iterations, _mm256_set1_epi8(0x05), _mm256_setzero_si256(),
                          [&](__m256i acc, __m256i v) { return _mm256_add_epi8(acc, _mm256_shuffle_epi8(table, v)); });
  *macs = double(iterations) * kPeakChains * 128;
  return first_lane(r);
}

}  // namespace dlcore
