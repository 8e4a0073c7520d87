// Direct int8 convolution for layers with few output channels per group
// (LeNet's conv1: 6 outputs over a 25-tap window of one channel), AVX2.
//
// Why: im2col + the int8 GEMM multiplies a (pixels x taps) patch matrix by
// the weights with a 4x16 / 6x16 tile whose 16 columns are output channels;
// with 6 of them 5/8 of every tile is zero padding, and the patch matrix,
// the packing of A and the transpose back to NCHW cost more than the
// products (LeNet-5 int8 at batch 64 ran at 0.40x float32). Here output
// pixels are the vector lanes and the result is written in NCHW directly:
//
//   for each (image, group, output row, block of 16 output columns):
//     for each input channel c, kernel row kh, pair of taps (kw, kw + 1):
//       xa, xb = 16 input bytes under tap kw / kw + 1, widened to int16, minus zp
//       lo, hi = their int16 pairs interleaved (vpunpckl/hwd)
//       for each output channel o of the block (up to 6):
//         acc[o] += vpmaddwd({xa, xb} pairs, {w[o,c,kh,kw], w[o,c,kh,kw+1]})
//
// (x - zp) * w fits int16 x int16 -> int32 and vpmaddwd adds two products in
// int32, so every weight in [-128, 127] is exact (no 7-bit limit). Padding:
// the image is copied with the padding filled by the zero point (x - zp = 0:
// zero padding of the real-valued input) plus slack, so every 16-byte load is
// in bounds; columns past the row end are computed from the next row's bytes
// and never stored. Stride along the width must be 1 (contiguous loads); the
// entry declines other strides (conv_u8s8.cpp). Work units are (image, group)
// pairs on the tile pool; each output is computed by one thread in a fixed
// order, so results do not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/pool.h"
#include "core/threads.h"
#include "ops/quant/conv_u8s8.h"

namespace dlcore {
namespace {

constexpr int kOcBlock = 6;  // 12 accumulators + 2 inputs + 1 weight pair: 15 of 16 ymm registers
constexpr int kPixels = 16;  // output columns per block (two ymm of int32)

// Weight pairs of one output channel: pair[(c * kh + i) * kwp + j] = (w[2j], w[2j+1]) as int16, 0 past KW.
void pack_weight_pairs(const ConvShape& s, const int8_t* w, int64_t o, int32_t* pair) {
  const int64_t kwp = (s.kw + 1) / 2;
  const int8_t* wo = w + o * s.icg() * s.kh * s.kw;
  for (int64_t ci = 0; ci < s.icg() * s.kh; ++ci)
    for (int64_t j = 0; j < kwp; ++j) {
      const int16_t a = wo[ci * s.kw + 2 * j];
      const int16_t b = 2 * j + 1 < s.kw ? wo[ci * s.kw + 2 * j + 1] : 0;
      pair[ci * kwp + j] = int32_t(uint32_t(uint16_t(a)) | (uint32_t(uint16_t(b)) << 16));
    }
}

// 16 bytes at p, widened to int16, minus the zero point.
inline __m256i load16(const uint8_t* p, __m256i zp) {
  return _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), zp);
}

// One output row block: OB output channels (compile-time, for the register
// allocation) x 16 columns starting at padded column `col0` of row `row0`.
// `pairs`: OB channels' weight pairs, `y[o]` the channel's output row.
template <int OB>
void row_block(const ConvShape& s, const uint8_t* xp, int64_t ph, int64_t pw, int64_t row0, int64_t col0,
               const int32_t* const* pairs, __m256i zp, int32_t* const* y, int64_t ow0, int64_t valid) {
  __m256i lo[OB], hi[OB];
  for (int o = 0; o < OB; ++o) lo[o] = hi[o] = _mm256_setzero_si256();
  const int64_t kwp = (s.kw + 1) / 2;
  for (int64_t c = 0; c < s.icg(); ++c)
    for (int64_t i = 0; i < s.kh; ++i) {
      const uint8_t* row = xp + (c * ph + row0 + i * s.dh) * pw + col0;
      const int64_t wbase = (c * s.kh + i) * kwp;
      for (int64_t j = 0; j < kwp; ++j) {
        const __m256i xa = load16(row + 2 * j * s.dw, zp);
        const __m256i xb = load16(row + (2 * j + 1) * s.dw, zp);  // weight 0 past KW: any in-bounds byte
        const __m256i l = _mm256_unpacklo_epi16(xa, xb);          // columns 0-3 | 8-11, (tap a, tap b) pairs
        const __m256i h = _mm256_unpackhi_epi16(xa, xb);          // columns 4-7 | 12-15
        for (int o = 0; o < OB; ++o) {
          const __m256i wv = _mm256_set1_epi32(pairs[o][wbase + j]);
          lo[o] = _mm256_add_epi32(lo[o], _mm256_madd_epi16(l, wv));
          hi[o] = _mm256_add_epi32(hi[o], _mm256_madd_epi16(h, wv));
        }
      }
    }
  for (int o = 0; o < OB; ++o) {
    const __m256i first = _mm256_permute2x128_si256(lo[o], hi[o], 0x20);   // columns 0-7
    const __m256i second = _mm256_permute2x128_si256(lo[o], hi[o], 0x31);  // columns 8-15
    int32_t* dst = y[o] + ow0;
    if (valid == kPixels) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), first);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8), second);
    } else {
      alignas(32) int32_t tmp[kPixels];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), first);
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), second);
      std::memcpy(dst, tmp, size_t(valid) * sizeof(int32_t));
    }
  }
}

using RowBlockFn = void (*)(const ConvShape&, const uint8_t*, int64_t, int64_t, int64_t, int64_t, const int32_t* const*,
                            __m256i, int32_t* const*, int64_t, int64_t);
constexpr RowBlockFn kRowBlocks[kOcBlock + 1] = {nullptr,      row_block<1>, row_block<2>, row_block<3>,
                                                 row_block<4>, row_block<5>, row_block<6>};

}  // namespace

void conv2d_u8s8_direct_avx2(const ConvS8Args& a) {
  const ConvShape& s = a.s;
  const int64_t icg = s.icg(), ocg = s.ocg(), kwp = (s.kw + 1) / 2;
  const int64_t ph = s.ih + s.pt + s.pb, pw = s.iw + s.pl + s.pr;
  // Weight pairs of every output channel, once per call (OC x taps: tiny next to the image work).
  const int64_t per_oc = icg * s.kh * kwp;
  std::vector<int32_t> pairs(size_t(s.oc * per_oc));
  for (int64_t o = 0; o < s.oc; ++o) pack_weight_pairs(s, a.w, o, pairs.data() + o * per_oc);
  // Slack past the last row: the last block reads up to 15 columns beyond the row plus the taps.
  const int64_t slack = kPixels + 2 * kwp * s.dw + 16;
  const int64_t units = s.n * s.groups;
  const double macs_per_unit = double(s.oh * s.ow) * double(ocg) * double(icg * s.kh * s.kw);
  // Below ~1 M multiply-adds per unit a second thread costs more than it saves.
  const int nt =
      int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), int64_t(double(units) * macs_per_unit / 1.0e6))));
  parallel_tiles(units, nt, [&](int64_t u) {
    const int64_t n = u / s.groups, g = u % s.groups;
    thread_local std::vector<uint8_t> padded;
    padded.assign(size_t(icg * ph * pw + slack), uint8_t(a.x_zero_point));
    for (int64_t c = 0; c < icg; ++c)
      for (int64_t h = 0; h < s.ih; ++h)
        std::memcpy(padded.data() + (c * ph + h + s.pt) * pw + s.pl,
                    a.x + (((n * s.ic) + g * icg + c) * s.ih + h) * s.iw, size_t(s.iw));
    const __m256i zp = _mm256_set1_epi16(int16_t(a.x_zero_point));
    for (int64_t o0 = 0; o0 < ocg; o0 += kOcBlock) {
      const int ob = int(std::min<int64_t>(kOcBlock, ocg - o0));
      const int32_t* pp[kOcBlock];
      for (int o = 0; o < ob; ++o) pp[o] = pairs.data() + (g * ocg + o0 + o) * per_oc;
      for (int64_t oh = 0; oh < s.oh; ++oh) {
        int32_t* yrow[kOcBlock];
        for (int o = 0; o < ob; ++o) yrow[o] = a.y + ((n * s.oc + g * ocg + o0 + o) * s.oh + oh) * s.ow;
        for (int64_t ow0 = 0; ow0 < s.ow; ow0 += kPixels)
          kRowBlocks[ob](s, padded.data(), ph, pw, oh * s.sh, ow0, pp, zp, yrow, ow0,
                         std::min<int64_t>(kPixels, s.ow - ow0));
      }
    }
  });
}

}  // namespace dlcore
