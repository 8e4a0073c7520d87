// AVX2 binary kernels: popcount by the nibble table (vpshufb looks up the bit
// count of each 4-bit half of every byte), bytes summed across up to 31
// vectors before vpsadbw widens them to 64-bit counts (each byte holds at most
// 8 per vector: 31 * 8 = 248 < 256). The last partial vector is read with a
// masked load (dead lanes are 0 in both x and w, XOR 0, count 0).
#include <immintrin.h>

#include <cstring>

#include "core/parallel.h"
#include "core/pool.h"
#include "ops/binary/binary_kernels.h"

namespace dlcore {
namespace {

inline __m256i popcount_bytes(__m256i v) {
  const __m256i table =
      _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
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

// Convolution micro-kernel (binary_kernels.h): MV vectors of 4 pixels x NR channels. Words are
// stored pre-split into their low and high nibbles (0x0f in each byte), so a product costs
//   2 vpxor + 2 vpshufb + 2 vpaddb   per 256 bits
// instead of 8 ops (no vpsrlw / vpand per product: the split is paid once per gathered word and
// once per weight word). Channels' words come pre-broadcast from the packed panel (kWRep = 4), pixels sit
// in lanes, so each lane's byte counts belong to one output: vpsadbw every kFlush steps gives
// the counts with no horizontal sums.
template <int MV, int NRt>
struct Avx2ConvUk {
  static constexpr int MR = 4 * MV, NR = NRt, kParts = 2, kWRep = 4;
  static void split(uint64_t v, uint64_t* parts) {
    parts[0] = v & 0x0F0F0F0F0F0F0F0FULL;
    parts[1] = (v >> 4) & 0x0F0F0F0F0F0F0F0FULL;
  }
  static void store(float* y, const int32_t* c, int32_t n, float sc, float bi) {
    static_assert(MV % 2 == 0, "8 pixels per ymm");
    for (int v = 0; v < MV; v += 2) {
      const __m256i ci = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 4 * v));
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(n), _mm256_slli_epi32(ci, 1)));
      _mm256_storeu_ps(y + 4 * v, _mm256_fmadd_ps(_mm256_set1_ps(sc), dot, _mm256_set1_ps(bi)));
    }
  }
  static void store_adj(float* y, const int32_t* c, const int32_t* n, float sc, float bi) {
    for (int v = 0; v < MV; v += 2) {
      const __m256i ci = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 4 * v));
      const __m256i ni = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(n + 4 * v));
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_sub_epi32(ni, _mm256_slli_epi32(ci, 1)));
      _mm256_storeu_ps(y + 4 * v, _mm256_fmadd_ps(_mm256_set1_ps(sc), dot, _mm256_set1_ps(bi)));
    }
  }
  static void run(const uint64_t* xp, const uint64_t* wp, int64_t k, int32_t* cnt) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                           2, 3, 2, 3, 3, 4);
    const __m256i zero = _mm256_setzero_si256();
    // 64-bit totals in memory: touched once per kFlush steps, they leave the 16 ymm registers to
    // the byte counters, the pixels' nibbles, the table and the broadcast weights. The first
    // chunk stores them (no zero-fill: a rep stos per call cost 12 % at K = 9).
    alignas(32) uint64_t wide[MV * NR * 4];
    for (int64_t q0 = 0; q0 < k; q0 += kFlush) {
      const int64_t q1 = std::min(k, q0 + kFlush);
      __m256i acc[MV][NR];
      for (int v = 0; v < MV; ++v)
        for (int j = 0; j < NR; ++j) acc[v][j] = zero;
      for (int64_t q = q0; q < q1; ++q) {
        const uint64_t* xq = xp + q * 2 * MR;
        const uint64_t* wq = wp + q * 2 * NR * 4;
        __m256i xl[MV], xh[MV];
        for (int v = 0; v < MV; ++v) xl[v] = load4(xq + 4 * v), xh[v] = load4(xq + MR + 4 * v);
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
          const __m256i wl = load4(wq + 4 * j), wh = load4(wq + 4 * (NR + j));
          for (int v = 0; v < MV; ++v)
            acc[v][j] =
                _mm256_add_epi8(acc[v][j], _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_xor_si256(xl[v], wl)),
                                                           _mm256_shuffle_epi8(table, _mm256_xor_si256(xh[v], wh))));
        }
      }
      for (int v = 0; v < MV; ++v)
        for (int j = 0; j < NR; ++j) {
          __m256i* w = reinterpret_cast<__m256i*>(wide + (v * NR + j) * 4);
          const __m256i c = _mm256_sad_epu8(acc[v][j], zero);
          _mm256_store_si256(w, q0 == 0 ? c : _mm256_add_epi64(_mm256_load_si256(w), c));
        }
    }
    // 64-bit counts (< 2^31) -> int32: the low halves, gathered by one permute.
    const __m256i low_halves = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for (int j = 0; j < NR; ++j)
      for (int v = 0; v < MV; ++v) {
        const __m256i c = _mm256_load_si256(reinterpret_cast<const __m256i*>(wide + (v * NR + j) * 4));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cnt + j * MR + 4 * v),
                         _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(c, low_halves)));
      }
  }
};

// Convolution micro-kernel, nibble tables (binary_kernels.h, its own layout): 64 pixels x 4
// channels. A gathered block holds one byte per pixel and nibble: byte (k * 16 + t) * 64 + i is
// bits 4t..4t+3 of pixel i's word k. A weight nibble w selects a 16-byte table T_w[v] =
// popcount(v XOR w), so one vpshufb of 32 pixels' nibbles by channel j's table gives their 32
// counts with no XOR, and the bytes sum per pixel with no horizontal step:
//   1 vpshufb + 1 vpaddb   per 32 pixels x 4 bits
// against 6 ops per 64 bits x 4 pixels of Avx2ConvUk (2 vpxor, 2 vpshufb, 2 vpaddb), i.e. a third
// of the vector ops for the same shuffles. The price is the layout: 16 byte stores per gathered
// word (amortized over the OC / 4 channel panels) and a 16-byte table per weight nibble.
struct Avx2NibbleUk {
  static constexpr int MR = 64, NR = 4, kParts = 1, kWRep = 1;
  static constexpr int64_t kSteps = 63;  // nibble steps summed in bytes before widening: 63 * 4 < 256
  // A block: the gathered words pixel-major (K x 64 words, put_x), then the nibble rows (K * 16 rows
  // of 64 bytes) that finish_block transposes them into.
  static int64_t block_words(int64_t K) { return K * MR + K * 16 * MR / 8; }
  static void put_x(uint64_t* blk, int64_t k, int64_t i, uint64_t v) { blk[k * MR + i] = v; }
  static void finish_block(uint64_t* blk, int64_t K) {
    const uint64_t* words = blk;
    uint8_t* rows = reinterpret_cast<uint8_t*>(blk + K * MR);
    for (int64_t k = 0; k < K; ++k)
      for (int i0 = 0; i0 < MR; i0 += 32) transpose32(words + k * MR + i0, rows + k * 16 * MR + i0);
  }
  // 32 pixels' words w[0..31] -> 16 rows of 32 bytes, row t at out + t * MR: nibble t of each.
  // Vector m holds pixels 2m, 2m+1 (low lane) and 16+2m, 17+2m (high lane); a vpshufb pairs the
  // two pixels' bytes b as 16-bit unit b, an 8 x 8 transpose of 16-bit units (3 rounds of unpacks)
  // gathers unit b of all 8 vectors, which is byte b of pixels 0..31 in order.
  static void transpose32(const uint64_t* w, uint8_t* out) {
    const __m256i pair = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2, 10, 3,
                                          11, 4, 12, 5, 13, 6, 14, 7, 15);
    __m256i a[8], t[8], u[8];
    for (int m = 0; m < 8; ++m)
      a[m] = _mm256_shuffle_epi8(_mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 + 2 * m)),
                                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * m))),
                                 pair);
    for (int m = 0; m < 8; m += 2)
      t[m] = _mm256_unpacklo_epi16(a[m], a[m + 1]), t[m + 1] = _mm256_unpackhi_epi16(a[m], a[m + 1]);
    for (int m = 0; m < 8; m += 4) {
      u[m] = _mm256_unpacklo_epi32(t[m], t[m + 2]), u[m + 1] = _mm256_unpackhi_epi32(t[m], t[m + 2]);
      u[m + 2] = _mm256_unpacklo_epi32(t[m + 1], t[m + 3]), u[m + 3] = _mm256_unpackhi_epi32(t[m + 1], t[m + 3]);
    }
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int q = 0; q < 4; ++q) {
      const __m256i r0 = _mm256_unpacklo_epi64(u[q], u[q + 4]), r1 = _mm256_unpackhi_epi64(u[q], u[q + 4]);
      const __m256i r[2] = {r0, r1};
      for (int h = 0; h < 2; ++h) {  // byte b = 2q + h: nibbles 2b (low) and 2b + 1 (high)
        const int b = 2 * q + h;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (2 * b) * MR), _mm256_and_si256(r[h], low));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (2 * b + 1) * MR),
                            _mm256_and_si256(_mm256_srli_epi16(r[h], 4), low));
      }
    }
  }
  static int64_t panel_words(int64_t K) { return K * 16 * NR * 16 / 8; }
  static void put_w(uint64_t* panel, int64_t k, int64_t j, uint64_t v) {
    static const struct Tables {  // tab[w][q] = popcount(q XOR w)
      uint8_t tab[16][16];
      Tables() {
        for (unsigned w = 0; w < 16; ++w)
          for (unsigned q = 0; q < 16; ++q) tab[w][q] = uint8_t(binary_popcount64(q ^ w));
      }
    } tables;
    uint8_t* b = reinterpret_cast<uint8_t*>(panel);
    for (int t = 0; t < 16; ++t) std::memcpy(b + ((k * 16 + t) * NR + j) * 16, tables.tab[(v >> (4 * t)) & 15], 16);
  }
  static void store(float* y, const int32_t* c, int32_t n, float sc, float bi) {
    Avx2ConvUk<16, 4>::store(y, c, n, sc, bi);
  }
  static void store_adj(float* y, const int32_t* c, const int32_t* n, float sc, float bi) {
    Avx2ConvUk<16, 4>::store_adj(y, c, n, sc, bi);
  }
  // Byte counters hold kSteps nibble steps; they are added into 16-bit totals in memory (unpacked
  // with zero: pixels 0-7 and 16-23 of the 32 in `lo`, 8-15 and 24-31 in `hi`), which become int32
  // once per call. 16 bits hold K * 64 < 65536 (declines_nibble refuses more).
  static void run(const uint64_t* xp, const uint64_t* wp, int64_t k, int32_t* cnt) {
    const uint8_t* xb = reinterpret_cast<const uint8_t*>(xp + k * MR);  // the nibble rows
    const uint8_t* tb = reinterpret_cast<const uint8_t*>(wp);
    const __m256i zero = _mm256_setzero_si256();
    alignas(32) __m256i tot[NR][2][2];  // [channel][32-pixel half][lo, hi]
    const int64_t steps = k * 16;
    for (int64_t s0 = 0; s0 < steps; s0 += kSteps) {
      const int64_t s1 = std::min(steps, s0 + kSteps);
      __m256i acc[2][NR];
      for (int v = 0; v < 2; ++v)
        for (int j = 0; j < NR; ++j) acc[v][j] = zero;
      for (int64_t q = s0; q < s1; ++q) {
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + q * MR));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + q * MR + 32));
#pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) {
          const __m256i t =
              _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tb + (q * NR + j) * 16)));
          acc[0][j] = _mm256_add_epi8(acc[0][j], _mm256_shuffle_epi8(t, x0));
          acc[1][j] = _mm256_add_epi8(acc[1][j], _mm256_shuffle_epi8(t, x1));
        }
      }
      for (int j = 0; j < NR; ++j)
        for (int v = 0; v < 2; ++v) {
          const __m256i lo = _mm256_unpacklo_epi8(acc[v][j], zero), hi = _mm256_unpackhi_epi8(acc[v][j], zero);
          tot[j][v][0] = s0 == 0 ? lo : _mm256_add_epi16(tot[j][v][0], lo);
          tot[j][v][1] = s0 == 0 ? hi : _mm256_add_epi16(tot[j][v][1], hi);
        }
    }
    for (int j = 0; j < NR; ++j)
      for (int v = 0; v < 2; ++v) {
        int32_t* c = cnt + j * MR + 32 * v;
        const __m256i lo = tot[j][v][0], hi = tot[j][v][1];
        const __m128i parts[4] = {_mm256_castsi256_si128(lo), _mm256_castsi256_si128(hi),
                                  _mm256_extracti128_si256(lo, 1), _mm256_extracti128_si256(hi, 1)};
        for (int q = 0; q < 4; ++q)
          _mm256_store_si256(reinterpret_cast<__m256i*>(c + 8 * q), _mm256_cvtepu16_epi32(parts[q]));
      }
  }
};

// Sign bits of 8 consecutive floats (bit p = v[p] >= 0).
inline uint32_t sign_bits8(const float* v) {
  return uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v), _mm256_setzero_ps(), _CMP_GE_OQ)));
}

void pack_rows(const BinaryPackArgs& a) {
  const int64_t words = (a.k + 63) / 64;
  parallel_units(a.rows, a.rows * a.k * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = a.x + r * a.k;
      uint64_t* dst = a.out + r * words;
      for (int64_t q = 0; q < words; ++q) {
        const int64_t end = std::min<int64_t>(64, a.k - 64 * q);
        uint64_t word = 0;
        int64_t b = 0;
        for (; b + 8 <= end; b += 8) word |= uint64_t(sign_bits8(src + 64 * q + b)) << b;
        for (; b < end; ++b) word |= uint64_t(src[64 * q + b] >= 0.0f) << b;
        dst[q] = word;
      }
    }
  });
}

// NCHW, per (image, row): the channels of a block of up to 64 are read 8 at a time, each one's row
// in order, and OR their sign masks (vcmpps) into 32-bit lanes, one per pixel (bits 0-31 and
// 32-63 of the pixel's word in two arrays). This streams the channel planes; the former loop
// (8 pixels x 8 channels per 8 x 8 bit transpose) touched all 64 planes every 8 pixels and ran at
// 3.4 GB/s on VGG conv1_2's input (7.5 ms of a 27 ms binary layer, 1 thread).
// Rows are items of the tile pool (core/pool.h), not an OpenMP region: under load a late thread
// holds up only the rows it took.
// From DRAM the packing runs at about the machine's read bandwidth (VGG conv2_1: 6.4 MB in 0.65 ms,
// 1 thread, caches flushed): items of 1024 flat pixels (one 4 KB run per channel instead of 448-byte
// rows) measured the same, from 1 or 2 threads.
// A second thread only from 2 MB of input (0.15 ms on one core): on the shared machine, waking a
// pool worker for AlexNet conv2's 0.56 MB cost more than it saved (packing 25 % of the layer).
constexpr int64_t kBinaryPackBytesPerThread = int64_t(2) << 20;

void pack_nchw(const BinaryPackArgs& a) {
  const int64_t cg = a.c / a.groups, wcg = (cg + 63) / 64, wc = a.groups * wcg, plane = a.h * a.w;
  const int64_t units = a.n * a.h, wpad = (a.w + 7) / 8 * 8;
  const int nt = int(std::max<int64_t>(
      1, std::min<int64_t>({int64_t(get_num_threads()), units, a.n * a.c * plane * 4 / kBinaryPackBytesPerThread})));
  const int64_t items = std::min<int64_t>(units, 8 * int64_t(nt));
  parallel_tiles(items, nt, [&](int64_t item) {
    std::vector<uint32_t> lo(static_cast<size_t>(wpad)), hi(static_cast<size_t>(wpad));
    for (int64_t u = units * item / items; u < units * (item + 1) / items; ++u) {
      const int64_t img = u / a.h, row = u % a.h;
      uint64_t* dst = a.out + u * a.w * wc;
      for (int64_t g = 0; g < a.groups; ++g)
        for (int64_t blk = 0; blk < wcg; ++blk) {
          const int64_t c0 = g * cg + blk * 64, nch = std::min<int64_t>(64, cg - blk * 64);
          const float* src = a.x + ((img * a.c + c0) * a.h + row) * a.w;
          std::fill(lo.begin(), lo.end(), 0u);
          std::fill(hi.begin(), hi.end(), 0u);
          for (int64_t j0 = 0; j0 < nch; j0 += 8) {
            const int64_t cn = std::min<int64_t>(8, nch - j0);
            uint32_t* acc = j0 < 32 ? lo.data() : hi.data();
            int64_t p = 0;
            for (; p + 8 <= a.w; p += 8) {
              __m256 r = _mm256_loadu_ps(reinterpret_cast<const float*>(acc + p));
              for (int64_t j = 0; j < cn; ++j) {
                const __m256 bit = _mm256_castsi256_ps(_mm256_set1_epi32(int(1u << ((j0 + j) & 31))));
                const __m256 ge =
                    _mm256_cmp_ps(_mm256_loadu_ps(src + (j0 + j) * plane + p), _mm256_setzero_ps(), _CMP_GE_OQ);
                r = _mm256_or_ps(r, _mm256_and_ps(ge, bit));
              }
              _mm256_storeu_ps(reinterpret_cast<float*>(acc + p), r);
            }
            if (p < a.w) {  // the row's last w % 8 pixels: masked loads (VGG conv5_1: 6 of 14)
              const __m256 live = _mm256_castsi256_ps(
                  _mm256_cmpgt_epi32(_mm256_set1_epi32(int(a.w - p)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
              __m256 r = _mm256_loadu_ps(reinterpret_cast<const float*>(acc + p));
              for (int64_t j = 0; j < cn; ++j) {
                const __m256 bit = _mm256_castsi256_ps(_mm256_set1_epi32(int(1u << ((j0 + j) & 31))));
                const __m256 v = _mm256_maskload_ps(src + (j0 + j) * plane + p, _mm256_castps_si256(live));
                r = _mm256_or_ps(
                    r, _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ), live), bit));
              }
              _mm256_storeu_ps(reinterpret_cast<float*>(acc + p), r);
            }
          }
          for (int64_t p = 0; p < a.w; ++p) dst[p * wc + g * wcg + blk] = lo[size_t(p)] | uint64_t(hi[size_t(p)]) << 32;
        }
    }
  });
}

}  // namespace

void binary_pack_avx2(const BinaryPackArgs& a) {
  if (a.nchw)
    pack_nchw(a);
  else
    pack_rows(a);
}

// 8 pixels x 4 channels: 8 byte counters + 4 pixel nibble vectors + the table + 2 temporaries fill
// the 16 ymm registers. Measured against 8 x 3 (with vpbroadcastq weights), 4 x 6 and 12 x 2 on VGG
// conv1_2 / conv2_1 / conv4_2 and AlexNet conv2 / conv5, 1 thread, same process, interleaved:
// 8 x 4 was fastest on all but AlexNet conv2 (12 x 2 4 % faster there), 3-15 % ahead of 8 x 3.
// Session 4, K = 9 (64 channels, 3x3): the micro-kernel is ~97 % of the packed convolution (1 thread:
// calls x 69 ns per call alone = the layer's time). Tried, not kept: int32 counts and the epilogue from
// registers (one 256-bit store per channel, no 64-bit round trip: neutral); scalar popcnt on the
// integer pipes for the 9th word (no gain); the step loop unrolled by 3 (-4 % K = 9, +3 % K = 18) or
// a fixed-K = 9 instance (+10 %: GCC spilled the byte counters).
void binary_conv2d_avx2(const BinaryConvArgs& a) { binary_conv2d_impl<Avx2ConvUk<2, 4>>(a); }
void binary_conv2d_avx2_nibble(const BinaryConvArgs& a) { binary_conv2d_impl<Avx2NibbleUk>(a); }
void binary_gemm_avx2(const BinaryGemmArgs& a) { binary_gemm_impl<Avx2Pop>(a); }

}  // namespace dlcore
