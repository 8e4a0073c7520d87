// The loops of the binary kernels, written once: the convolution over a micro-kernel policy `UK`
// (contract below), the GEMM over a popcount policy `Pop`:
//   Pop::count4(x, w0, w1, w2, w3, nwords, cnt)  cnt[j] += popcount(x XOR wj) over nwords words
//   Pop::count1(x, w, nwords)                    popcount(x XOR w) over nwords words
// Include only from binary_<isa>.cpp (each compiled with its ISA's flags).
#pragma once
#include <algorithm>
#include <cstdint>

#include <type_traits>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "core/pool.h"
#include "core/threads.h"
#include "ops/binary/binary.h"

namespace dlcore {
namespace {

inline float binary_out(const float* scale, const float* bias, int64_t o, int64_t dot) {
  const float s = scale ? scale[o] : 1.0f, b = bias ? bias[o] : 0.0f;
  return s * float(dot) + b;
}

// ---- convolution: an implicit GEMM over bits ---------------------------------------------------
//
// Per (image, group) the convolution is a GEMM over K packed words,
//   cnt[p][o] = sum_k popcount(X[p][k] XOR W[o][k]),
// where row X[p] holds the ICg sign bits of each tap of output pixel p back to back in tap order
// (kh, kw) and W[o] holds output channel o's weights packed the same way. Dense K: when ICg is
// not a multiple of 64 the taps are not padded to whole words (AlexNet conv2, 48 channels per
// group: 25 taps in 19 words instead of 25), K = ceil(KH * KW * ICg / 64).
//
// Zero padding (the choice documented in binary.h): a tap outside the image contributes 0 bits
// to X[p], so the XOR counts that tap's weight bits, popcount(W[o][tap]); the sum of those over
// the padded taps, pad_pop(pattern, o), is subtracted exactly and n = valid taps * ICg:
//   dot = n - 2 * (cnt - pad_pop)  ==  the float sign-convolution with zero padding.
// The valid taps of a pixel form a rectangle (kh0..kh1) x (kw0..kw1) (dilation keeps them
// contiguous in kernel index), so pad_pop is a small table over the distinct row and column
// ranges (3 x 3 patterns for a 3x3 kernel with padding 1) x OC, built per call from the packed
// weights; interior pixels (most of them) use neither.
//
// Micro-kernel contract (policy UK, one per ISA file, as the BLIS GEMM's):
//   UK::MR pixels x UK::NR output channels per call; every packed word is stored as
//   UK::kParts words, UK::split(word, parts) (AVX2: its low and high nibbles, so the vpshufb
//   lookup needs no shift or mask per product; VPOPCNTDQ and ref: the word itself).
//   UK::store(y, c, n, sc, bi): y[i] = sc * float(n - 2 * c[i]) + bi for the MR pixels (interior
//   blocks; UK::store_adj the same with n[i] per pixel, border blocks; binary_store_mr is the portable one, AVX2 writes
//   it with intrinsics: GCC left the loop scalar, 13 % of VGG conv1_2). (Non-temporal stores measured 2.4x slower on
//   conv1_2's 25.7 MB output: 4 channel planes written 32 bytes at a time leave partial lines in the WC buffers.
//   Whole lines do not pay either (issue 15, session 4): two 8-pixel blocks counted first, then each channel's
//   64-byte line written by two consecutive vmovntps, outputs >= 16 MB, measured 26 % slower on conv1_2 and
//   neutral on conv2_1 (1 thread, CPU time, interleaved A/B, load 5), though a bare 25.7 MB fill runs 24 %
//   faster non-temporal on this VM; at 2 threads the loaded machine showed no gain either.)
//   UK::run(xp, wp, K, cnt): xp = K x kParts x MR words (pixels in lanes), wp = K x kParts x NR x
//   kWRep words (each channel's word repeated kWRep times: AVX2 4, a ready ymm operand instead of a
//   vpbroadcastq per product), cnt[j * MR + i] = sum_k popcount(x_i[k] XOR w_j[k]).
//   A policy with another layout says so through BinaryLayout (below): the nibble-table kernel stores
//   one byte per pixel and nibble, gathered as words (put_x) and transposed per block (finish_block),
//   and a 16-byte table per weight nibble (put_w).
// Loops: a tile of whole MR-pixel blocks of one (image, group) is gathered into xp (sized to stay
// in L1D), then every NR-channel panel of the weights (packed once per call, L2) runs over it.
// Threads take (image, group, pixel tile, channel chunk) items from the tile pool (core/pool.h),
// so batch 1 at 13x13 still splits evenly; each output is computed by one item, in a fixed
// order: results do not depend on the thread count.

// Appends bit strings back to back into 64-bit words: emit(k, word) for word k.
template <class Emit>
struct DenseBits {
  Emit& emit;
  int64_t k = 0;
  uint64_t cur = 0;
  int fill = 0;                   // bits of cur in use, < 64
  void add(uint64_t v, int nb) {  // v has no bit set at or above nb (1 <= nb <= 64)
    cur |= v << fill;
    if (fill + nb >= 64) {
      emit(k++, cur);
      cur = fill ? v >> (64 - fill) : 0;
      fill = fill + nb - 64;
    } else {
      fill += nb;
    }
  }
  void finish() {
    if (fill) emit(k++, cur);
  }
};

// The K-word row of one tap list: tap(t) gives the tap's wcg words or null (a padded tap, 0 bits).
template <class Tap, class Emit>
void binary_pack_row(int64_t taps, int64_t icg, int64_t wcg, Tap&& tap, Emit&& emit) {
  if (icg % 64 == 0) {  // whole words: a copy
    int64_t k = 0;
    for (int64_t t = 0; t < taps; ++t) {
      const uint64_t* src = tap(t);
      for (int64_t q = 0; q < wcg; ++q) emit(k++, src ? src[q] : 0);
    }
    return;
  }
  DenseBits<Emit> bits{emit};
  for (int64_t t = 0; t < taps; ++t) {
    const uint64_t* src = tap(t);
    for (int64_t q = 0; q < wcg; ++q) bits.add(src ? src[q] : 0, int(std::min<int64_t>(64, icg - 64 * q)));
  }
  bits.finish();
}

inline uint64_t binary_popcount64(uint64_t v) {  // portable SWAR (baseline x86-64 has no popcnt)
  v = v - ((v >> 1) & 0x5555555555555555ULL);
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return (v * 0x0101010101010101ULL) >> 56;
}

// Valid kernel index range [lo, hi) along one axis for output index o.
inline void binary_valid_taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t in, int64_t* lo,
                              int64_t* hi) {
  *lo = k, *hi = 0;
  for (int64_t t = 0; t < k; ++t) {
    const int64_t i = o * stride - pad + t * dil;
    if (i >= 0 && i < in) *lo = std::min(*lo, t), *hi = t + 1;
  }
  if (*hi <= *lo) *lo = *hi = 0;
}

// Border patterns along one axis: pat[o] indexes ranges (lo, hi); the full range is `full`.
struct BinaryAxisPatterns {
  std::vector<int32_t> pat;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int32_t full = -1;
  BinaryAxisPatterns(int64_t out, int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t in) {
    pat.resize(size_t(out));
    for (int64_t o = 0; o < out; ++o) {
      int64_t lo, hi;
      binary_valid_taps(o, stride, pad, dil, k, in, &lo, &hi);
      size_t r = 0;
      while (r < ranges.size() && ranges[r] != std::make_pair(lo, hi)) ++r;
      if (r == ranges.size()) ranges.emplace_back(lo, hi);
      pat[size_t(o)] = int32_t(r);
      if (lo == 0 && hi == k) full = int32_t(r);
    }
  }
};

template <int MR>
inline void binary_store_mr(float* y, const int32_t* c, int32_t n, float sc, float bi) {
  for (int i = 0; i < MR; ++i) y[i] = sc * float(n - 2 * c[i]) + bi;
}
template <int MR>
inline void binary_store_adj_mr(float* y, const int32_t* c, const int32_t* n, float sc, float bi) {
  for (int i = 0; i < MR; ++i) y[i] = sc * float(n[i] - 2 * c[i]) + bi;
}

// Stores the UK::kParts words of packed word v at d[0], d[stride], ...
template <class UK>
inline void binary_put(uint64_t v, uint64_t* d, int64_t stride) {
  uint64_t parts[UK::kParts];
  UK::split(v, parts);
  for (int q = 0; q < UK::kParts; ++q) d[q * stride] = parts[q];
}

// Where the gathered words and the weight panels go. Default: a block is K x kParts x MR words
// (pixels in lanes), a panel K x kParts x NR x kWRep words. A policy with its own layout (the AVX2
// nibble-table kernel: bytes, one per pixel and nibble) defines block_words / panel_words /
// put_x / put_w itself.
template <class UK, class = void>
struct BinaryLayout {
  static constexpr int MR = UK::MR, NR = UK::NR, P = UK::kParts, R = UK::kWRep;
  static int64_t block_words(int64_t K) { return K * P * MR; }
  static int64_t panel_words(int64_t K) { return K * P * NR * R; }
  static void put_x(uint64_t* blk, int64_t k, int64_t i, uint64_t v) { binary_put<UK>(v, blk + k * P * MR + i, MR); }
  static void finish_block(uint64_t*, int64_t) {}
  static void put_w(uint64_t* panel, int64_t k, int64_t j, uint64_t v) {
    uint64_t parts[P];
    UK::split(v, parts);
    for (int q = 0; q < P; ++q)
      for (int r = 0; r < R; ++r) panel[(k * P + q) * NR * R + j * R + r] = parts[q];
  }
};
template <class UK>
struct BinaryLayout<UK, std::void_t<decltype(&UK::put_x)>> {
  static int64_t block_words(int64_t K) { return UK::block_words(K); }
  static int64_t panel_words(int64_t K) { return UK::panel_words(K); }
  static void put_x(uint64_t* blk, int64_t k, int64_t i, uint64_t v) { UK::put_x(blk, k, i, v); }
  static void finish_block(uint64_t* blk, int64_t K) { UK::finish_block(blk, K); }  // e.g. a transpose
  static void put_w(uint64_t* panel, int64_t k, int64_t j, uint64_t v) { UK::put_w(panel, k, j, v); }
};

constexpr int64_t kBinaryXTileBytes = 16 << 10;  // the gathered pixel tile stays in L1D (32 KB on Zen 3)

template <class UK>
void binary_conv2d_impl(const BinaryConvArgs& a) {
  constexpr int MR = UK::MR, NR = UK::NR;
  using L = BinaryLayout<UK>;
  const ConvShape& s = a.s;
  const int64_t wcg = a.wcg, icg = s.icg(), ocg = s.ocg(), taps = s.kh * s.kw;
  const int64_t K = (taps * icg + 63) / 64, wc = s.groups * wcg, pixels = s.oh * s.ow;
  if (s.n == 0 || s.oc == 0 || pixels == 0) return;
  const int64_t ncb = (ocg + NR - 1) / NR;  // channel panels per group
  const bool word_taps = icg % 64 == 0;     // taps start on word boundaries

  const int64_t work = s.n * s.oc * pixels * taps * icg;  // binary multiply-adds
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), work >> 22)));

  // Per output channel, on the threads (AlexNet's 13 x 13 layers spend as long here as in a
  // third of their products):
  // weights: per (group, panel) K x P x NR x R words, channels past the group's end zero;
  // padding: with pattern id = row pattern * col patterns + col pattern,
  //   nadj[o * npat + id] = n + 2 * pad_pop(id, o),  so  dot = nadj - 2 * cnt.
  const int64_t panel_words = L::panel_words(K);
  std::vector<uint64_t> wpan(size_t(s.groups * ncb * panel_words), 0);
  const BinaryAxisPatterns rows(s.oh, s.sh, s.pt, s.dh, s.kh, s.ih), cols(s.ow, s.sw, s.pl, s.dw, s.kw, s.iw);
  const int64_t ncp = int64_t(cols.ranges.size()), npat = int64_t(rows.ranges.size()) * ncp;
  std::vector<int32_t> nadj(size_t(npat * s.oc));
  // One thread below 1 MB of panels (AlexNet conv4: 0.66 MB): waking a worker costs more there.
  const int nt_w = wpan.size() * 8 < (size_t(1) << 20) ? 1 : nt;
  const int64_t ochunks = std::min<int64_t>(s.oc, 4 * int64_t(nt_w));
  parallel_tiles(ochunks, nt_w, [&](int64_t chunk) {
    std::vector<int32_t> tap_pop(static_cast<size_t>(taps));
    for (int64_t o = s.oc * chunk / ochunks; o < s.oc * (chunk + 1) / ochunks; ++o) {
      const int64_t g = o / ocg, j = (o % ocg) % NR, cb = (o % ocg) / NR;
      uint64_t* dst = wpan.data() + (g * ncb + cb) * panel_words;
      const uint64_t* wo = a.w + o * taps * wcg;
      binary_pack_row(
          taps, icg, wcg, [&](int64_t t) { return wo + t * wcg; },
          [&](int64_t k, uint64_t v) { L::put_w(dst, k, j, v); });
      int32_t total = 0;
      for (int64_t t = 0; t < taps; ++t) {
        int32_t c = 0;
        for (int64_t q = 0; q < wcg; ++q) c += int32_t(binary_popcount64(wo[t * wcg + q]));
        tap_pop[size_t(t)] = c, total += c;
      }
      for (size_t rp = 0; rp < rows.ranges.size(); ++rp)
        for (size_t cp = 0; cp < cols.ranges.size(); ++cp) {
          const auto &rr = rows.ranges[rp], &cr = cols.ranges[cp];
          int32_t valid = 0;
          for (int64_t kh = rr.first; kh < rr.second; ++kh)
            for (int64_t kw = cr.first; kw < cr.second; ++kw) valid += tap_pop[size_t(kh * s.kw + kw)];
          const int64_t n = (rr.second - rr.first) * (cr.second - cr.first) * icg;
          nadj[size_t(o * npat + int64_t(rp) * ncp + int64_t(cp))] = int32_t(n + 2 * (total - valid));
        }
    }
  });

  std::vector<float> scl(size_t(s.oc), 1.0f), bia(size_t(s.oc), 0.0f);
  if (a.scale) std::copy(a.scale, a.scale + s.oc, scl.begin());
  if (a.bias) std::copy(a.bias, a.bias + s.oc, bia.begin());

  // Work items: pixel tiles of whole MR blocks sized for L1; smaller tiles, then channel chunks,
  // when there are too few items for the threads (batch 1, 13 x 13).
  const int64_t block_words = L::block_words(K), nblocks = (pixels + MR - 1) / MR;
  int64_t tile_blocks = std::max<int64_t>(1, std::min(nblocks, kBinaryXTileBytes / (8 * block_words)));
  const int64_t want = 4 * int64_t(nt);
  auto tiles_of = [&](int64_t tb) { return (nblocks + tb - 1) / tb; };
  while (tile_blocks > 1 && s.n * s.groups * tiles_of(tile_blocks) < want) tile_blocks = (tile_blocks + 1) / 2;
  const int64_t ntiles = tiles_of(tile_blocks);
  const int64_t chunks = std::min(ncb, std::max<int64_t>(1, want / (s.n * s.groups * ntiles)));
  const int64_t items = s.n * s.groups * ntiles * chunks;

  parallel_tiles(items, nt, [&](int64_t item) {
    // Local copies of the shape and sizes: captured by reference they are int64 memory that
    // every uint64 store into xp might alias, so the compiler reloaded them per gathered word.
    const ConvShape s = a.s;
    const int64_t wcg = a.wcg, icg = s.icg(), ocg = s.ocg(), taps = s.kh * s.kw, wc = s.groups * wcg;
    const int64_t K = (taps * icg + 63) / 64, pixels = s.oh * s.ow, block_words = L::block_words(K);
    const int64_t ch = item % chunks, tile = item / chunks % ntiles;
    const int64_t g = item / (chunks * ntiles) % s.groups, n = item / (chunks * ntiles * s.groups);
    const int64_t b0 = tile * tile_blocks, b1 = std::min(nblocks, b0 + tile_blocks);
    const int64_t cb0 = ncb * ch / chunks, cb1 = ncb * (ch + 1) / chunks;
    // Gather: the K-word rows of the tile's pixels, pixels in lanes, past the image's end zero.
    std::vector<uint64_t> xp(size_t((b1 - b0) * block_words), 0);
    std::vector<int32_t> pat(size_t((b1 - b0) * MR), int32_t(rows.full * ncp + cols.full));
    std::vector<char> border(size_t(b1 - b0), 0);
    const uint64_t* xg = a.x + n * s.ih * s.iw * wc + g * wcg;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t p0 = b * MR, oh = p0 / s.ow, ow0 = p0 % s.ow;
      uint64_t* blk = xp.data() + (b - b0) * block_words;
      // A block of MR interior pixels of one output row at stride 1 (most of a large layer): per
      // tap word, the MR pixels' words are MR consecutive pixels' (stride wc), a loop the compiler
      // vectorizes for wc = 1; no padding correction.
      if (word_taps && s.sw == 1 && ow0 + MR <= s.ow && rows.pat[size_t(oh)] == rows.full &&
          cols.pat[size_t(ow0)] == cols.full && cols.pat[size_t(ow0 + MR - 1)] == cols.full) {
        const uint64_t* x0 = xg + ((oh * s.sh - s.pt) * s.iw + ow0 - s.pl) * wc;
        int64_t k = 0;
        for (int64_t kh = 0; kh < s.kh; ++kh)
          for (int64_t kw = 0; kw < s.kw; ++kw)
            for (int64_t q = 0; q < wcg; ++q, ++k) {
              const uint64_t* t = x0 + (kh * s.dh * s.iw + kw * s.dw) * wc + q;
              if (wc == 1) {
                for (int i = 0; i < MR; ++i) L::put_x(blk, k, i, t[i]);
              } else {
                for (int i = 0; i < MR; ++i) L::put_x(blk, k, i, t[i * wc]);
              }
            }
        continue;
      }
      // Pixel by pixel; the block needs the padding correction (and a partial store) only when
      // one of its pixels has a padded tap (or it is the image's last, partial block).
      if (pixels - p0 < MR) border[size_t(b - b0)] = 1;
      for (int64_t p = p0; p < std::min(pixels, p0 + MR); ++p) {
        const int64_t oh = p / s.ow, ow = p % s.ow, i = p - b0 * MR;
        const int32_t rp = rows.pat[size_t(oh)], cp = cols.pat[size_t(ow)];
        if (rp != rows.full || cp != cols.full) border[size_t(b - b0)] = 1;
        const auto& rr = rows.ranges[size_t(rp)];
        const auto& cr = cols.ranges[size_t(cp)];
        pat[size_t(i)] = int32_t(rp * ncp + cp);
        auto emit = [&](int64_t k, uint64_t v) { L::put_x(blk, k, i % MR, v); };
        DenseBits<decltype(emit)> bits{emit};
        const int64_t x0 = ((oh * s.sh - s.pt) * s.iw + ow * s.sw - s.pl) * wc;  // may be < 0: an offset
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          const bool row_ok = kh >= rr.first && kh < rr.second;
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            const uint64_t* t =
                row_ok && kw >= cr.first && kw < cr.second ? xg + x0 + (kh * s.dh * s.iw + kw * s.dw) * wc : nullptr;
            if (word_taps) {
              for (int64_t q = 0; q < wcg; ++q) emit(bits.k++, t ? t[q] : 0);
            } else {
              for (int64_t q = 0; q < wcg; ++q) bits.add(t ? t[q] : 0, int(std::min<int64_t>(64, icg - 64 * q)));
            }
          }
        }
        bits.finish();
      }
    }
    for (int64_t b = b0; b < b1; ++b) L::finish_block(xp.data() + (b - b0) * block_words, K);
    alignas(64) int32_t cnt[NR * MR];
    for (int64_t cb = cb0; cb < cb1; ++cb) {
      const uint64_t* wp = wpan.data() + (g * ncb + cb) * panel_words;
      const int64_t o0 = g * ocg + cb * NR, nr = std::min<int64_t>(NR, (g + 1) * ocg - o0);
      for (int64_t b = b0; b < b1; ++b) {
        UK::run(xp.data() + (b - b0) * block_words, wp, K, cnt);
        const int64_t p0 = b * MR, m = std::min<int64_t>(MR, pixels - p0), i0 = (b - b0) * MR;
        const int32_t nfull = int32_t(taps * icg);
        for (int64_t j = 0; j < nr; ++j) {
          const int64_t o = o0 + j;
          const float sc = scl[size_t(o)], bi = bia[size_t(o)];
          float* y = a.y + (n * s.oc + o) * pixels + p0;
          const int32_t* c = cnt + j * MR;
          if (!border[size_t(b - b0)]) {  // m == MR here
            UK::store(y, c, nfull, sc, bi);
          } else {  // per pixel n + 2 * pad_pop
            const int32_t* na = nadj.data() + o * npat;
            alignas(64) int32_t adj[MR];
            for (int i = 0; i < MR; ++i) adj[i] = na[pat[size_t(i0 + i)]];
            if (m == MR) {
              UK::store_adj(y, c, adj, sc, bi);
            } else {
              for (int64_t i = 0; i < m; ++i) y[i] = sc * float(adj[i] - 2 * c[i]) + bi;
            }
          }
        }
      }
    }
  });
}

template <class Pop>
void binary_gemm_impl(const BinaryGemmArgs& a) {
  const int64_t W = a.words;
  const int nt = int(std::min<int64_t>(get_num_threads(), std::max<int64_t>(a.m, 1)));
  const bool par = nt > 1 && a.m * a.n * W >= (1 << 14);
  parallel_each(a.m, par ? nt : 1, [&](int64_t i) {
    const uint64_t* x = a.x + i * W;
    float* y = a.y + i * a.n;
    int64_t j = 0;
    for (; j + 4 <= a.n; j += 4) {
      uint64_t cnt[4] = {0, 0, 0, 0};
      const uint64_t* w = a.w + j * W;
      Pop::count4(x, w, w + W, w + 2 * W, w + 3 * W, W, cnt);
      for (int q = 0; q < 4; ++q) y[j + q] = binary_out(a.scale, a.bias, j + q, a.k - 2 * int64_t(cnt[q]));
    }
    for (; j < a.n; ++j) y[j] = binary_out(a.scale, a.bias, j, a.k - 2 * int64_t(Pop::count1(x, a.w + j * W, W)));
  });
}

}  // namespace
}  // namespace dlcore
