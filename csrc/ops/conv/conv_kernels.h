// Direct convolution on a channel-blocked layout, written once for every
// vector type V (simd::Avx2: 8-channel blocks, simd::Avx512: 16-channel
// blocks). Include only from conv_avx2.cpp / conv_avx512.cpp.
//
// Internal layouts (W = V::width, channels zero-padded to whole blocks per
// group, spatial padding materialised as zeros so no kernel tests bounds):
//   activations  [N][G][CB][H][W_sp][W]          ("NCHW<W>c", per group)
//   weights fwd  [G][OCB][ICB][KH][KW][W ic][W oc] (vector over oc)
//   weights bwd  [G][ICB][OCB][KH][KW][W oc][W ic] (vector over ic)
// The reorders into and out of these layouts run inside each call.
//
// One register tile serves forward and backward-data: NB vector blocks x RW
// output columns of accumulators; each reduction step loads NB weight vectors
// and broadcasts RW scalars of the source row (oneDNN's jit_avx2_conv idea).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "core/epilogue.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "core/simd.h"
#include "core/threads.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Register tile per ISA: NB blocks x RW columns of accumulators plus NB
// weight vectors and one broadcast must fit the register file.
template <class V>
struct TileShape {
  static constexpr int kRegs = V::width >= 16 ? 32 : 16;
  static constexpr int NB = 3;
  // AVX2: 3 blocks x 4 columns (12 acc); 2x6 measured 5-15% slower, 4x2 20% slower.
  // AVX-512: 3 x 9 (27 acc).
  static constexpr int RW = (kRegs - NB - 1) / NB;
  // A single block (layers with at most W output channels per group: LeNet's 6, the 6-channel dx of its
  // conv2's backward data) gets as many columns as the full tile has accumulators, not RW: 4 accumulators
  // cannot hide the FMA latency. AVX2 1 x 12, measured (1 thread, interleaved vs 1 x 4): LeNet conv2
  // backward-data 32x16x10x10 -> 32x6x14x14 1.08 -> 0.65 ms, conv1 forward 32x1x28x28 -> 32x6x28x28
  // 0.40 -> 0.33 ms. AVX-512 keeps 1 x RW (9): no AVX-512 machine here to measure a wider tile on.
  static constexpr int RW1 = V::width >= 16 ? RW : 3 * RW;
};

// Weights one row sweep keeps hot: half of a 32 KiB L1d (the other half holds
// the KH input rows and the output row). With 3x3 AVX2 that is 3 input-channel
// blocks per sweep; measured on vgg_16:conv3_2 / resnet_50:res4a_branch2b.
constexpr int64_t kL1WeightBytes = 16 * 1024;

// Output rows one forward work item computes. Each chunk of weights (held in
// L1) sweeps all rows of the item before the next chunk is loaded, so on small
// images (7x7 .. 56x56, where one row is only a few tiles) the weights stream
// from L2 once per item instead of once per row. Measured with 2 threads on
// 3x3 layers (fb_bench-style, forward_blocked alone): one row per item 64-75
// GF/s, up to 64 columns 70-81, up to 256 columns 73-87 (512x512 at 14x14 and
// 28x28 gained most); the accumulator rows then spill from L1 to L2, which
// costs little since a tile touches them only at its start and end. Capped
// further so that every thread gets enough items to balance a loaded machine.
constexpr int64_t kForwardItemColumns = 256;
constexpr int64_t kMinItemsPerThread = 8;

// Threads for a loop touching `floats` elements (reorders) or doing `flops`
// (kernels): below these sizes a second thread's fork/join costs more than it
// saves (and on a loaded machine a barrier can cost a whole time slice).
constexpr int64_t kMinFloatsPerThread = 1 << 15;
constexpr double kMinFlopsPerThread = 1.0e6;
inline int threads_for_floats(int64_t floats) {
  return int(imax(1, imin(get_num_threads(), floats / kMinFloatsPerThread)));
}

// body(begin, end) over [0, rows) of a reorder touching `floats` elements,
// in kMinItemsPerThread chunks a thread handed out by the tile pool: an OpenMP
// static split left half of every input and output reorder to a thread the
// OS had descheduled, while the convolution's own tiles around it were
// already dynamic (issue 17's busy machine). The weight reorders too: a
// 512x512x3x3 layer's 9.4 MB of weights every call (ResNet-50 res5a_branch2b
// forward ran 3.1 ms quiet, 7.4 ms beside a spinning process).
template <class Body>
void parallel_rows(int64_t rows, int64_t floats, Body&& body) {
  const int nt = threads_for_floats(floats);
  parallel_ranges(rows, nt, int64_t(nt) * kMinItemsPerThread, body);
}
inline int threads_for_flops(double flops) {
  return int(imax(1, imin(get_num_threads(), int64_t(flops / kMinFlopsPerThread))));
}
// `items_per_row`: the work items a single output row would give (n * groups * oc-block groups).
inline int64_t forward_rows_per_item(int64_t oh, int64_t ow, int64_t items_per_row) {
  int64_t rows = imax(1, imin(oh, kForwardItemColumns / imax(1, ow)));
  const int64_t want = kMinItemsPerThread * get_num_threads();
  while (rows > 1 && items_per_row * ceil_div(oh, rows) < want) --rows;
  return ceil_div(oh, ceil_div(oh, rows));  // even blocks: 28 rows as 4 x 7, not 9+9+9+1
}
// The indices i in [0, count) whose padded coordinate pos + i * step lies
// inside the image: [pad, pad + size) of a plane padded by `pad` in front.
// A tap outside reads only the zeros of the materialised padding, so the
// kernels skip it where they can (whole kernel rows of a forward row; rows
// and columns of a weight-gradient tap): the sums lose nothing but 0 * w
// terms. On small images that is much of the work: 3x3 with padding 1 at 4x4
// outputs reads padding in 2 of 12 kernel rows, at 8x8 in 2 of 24. Measured
// (2 threads, Zen 4, batch 64, 3x3 pad 1, ms forward + backward-data +
// backward-weights): 128 channels at 4x4 1.62+1.63+2.08 -> 1.41+1.41+1.32,
// 64 channels at 8x8 1.57+1.60+1.66 -> 1.47+1.47+1.45.
struct IndexRange {
  int64_t begin, end;
};
inline IndexRange inside_image(int64_t pos, int64_t step, int64_t count, int64_t pad, int64_t size) {
  const int64_t first = pos >= pad ? 0 : ceil_div(pad - pos, step);
  const int64_t last = pad + size - 1 - pos;  // the largest i * step still inside
  const int64_t end = last < 0 ? 0 : imin(count, last / step + 1);
  return {imin(first, end), end};
}

inline double conv_flops(const ConvShape& s) {
  return 2.0 * double(s.n) * double(s.oc) * double(s.oh * s.ow) * double(s.icg() * s.kh * s.kw);
}

// Block counts of one convolution for blocks of W channels.
struct Blocking {
  int64_t G, icg, ocg, icb, ocb;  // groups; channels per group; blocks per group
  int64_t ihp, iwp;               // padded input size
};

inline Blocking blocking_for(const ConvShape& s, int W) {
  Blocking b;
  b.G = s.groups;
  b.icg = s.icg();
  b.ocg = s.ocg();
  b.icb = ceil_div(b.icg, W);
  b.ocb = ceil_div(b.ocg, W);
  b.ihp = s.ih + s.pt + s.pb;
  b.iwp = s.iw + s.pl + s.pr;
  return b;
}

// One input channel per group and few outputs per group (depthwise, as in
// MobileNet): these run on NCHW directly, vectors along the output row
// (depthwise_kernels.h, included at the end of this file). With more outputs
// per group the narrow blocked path fills its W-lane output blocks well.
// (use_depthwise(s) is in conv.h: the registry's decline reasons use it.)
template <class V>
void depthwise_forward(const ConvForwardArgs& a);
template <class V>
void depthwise_backward_data(const ConvBackwardDataArgs& a);
template <class V>
void depthwise_backward_weights(const ConvBackwardWeightsArgs& a);

// ---------------------------------------------------------------------------
// Reorders (memory-bound; plain loops, parallel over rows). Templates over V
// too, although only widths matter, so that their AVX-512 instantiations
// carry Avx512 in their names (the ISA-isolation test reads symbols).
// ---------------------------------------------------------------------------

// dst[p][c] = src[c * plane + p] for pixels p < count and lanes c < W (a
// multiple of 8): 8 x 8 blocks through registers, the last count % 8 pixels
// one float at a time.
template <int W>
void channels_to_lanes(const float* src, int64_t plane, int64_t count, float* dst) {
  static_assert(W % 8 == 0, "whole 8 x 8 blocks of lanes");
  int64_t p = 0;
  for (; p + 8 <= count; p += 8)
    for (int c = 0; c < W; c += 8) simd::transpose8x8(src + c * plane + p, plane, dst + p * W + c, W);
  for (; p < count; ++p)
#pragma GCC unroll 16
    for (int c = 0; c < W; ++c) dst[p * W + c] = src[c * plane + p];
}
// The inverse for the first `live` lanes: dst[c * plane + p] = src[p][c].
// 16 pixels at a time, so each channel row gets a whole 64-byte line at once:
// with W = 16 planes of 224x224 (a multiple of 4 KiB apart) all 16 rows fall
// in one L1 set, and half lines were evicted before their other half came
// (single-float stores there made this reorder 7x the convolution's own time:
// VGG conv1_1, Zen 4). The channel tail's lanes go through a tile.
template <int W>
void lanes_to_channels(const float* src, int64_t count, int64_t live, int64_t plane, float* dst) {
  static_assert(W % 8 == 0, "whole 8 x 8 blocks of lanes");
  auto block = [&](int64_t p, int c) {  // pixels p..p+7, lanes c..c+7
    if (c + 8 <= live) return simd::transpose8x8(src + p * W + c, W, dst + c * plane + p, plane);
    alignas(32) float tile[8][8];
    simd::transpose8x8(src + p * W + c, W, &tile[0][0], 8);
    for (int64_t r = 0; r < live - c; ++r)
      for (int q = 0; q < 8; ++q) dst[(c + r) * plane + p + q] = tile[r][q];
  };
  int64_t p = 0;
  for (; p + 16 <= count; p += 16)
    for (int c = 0; c < live; c += 8) {
      block(p, c);
      block(p + 8, c);
    }
  for (; p + 8 <= count; p += 8)
    for (int c = 0; c < live; c += 8) block(p, c);
  for (int64_t c = 0; c < live; ++c)
    for (int64_t q = p; q < count; ++q) dst[c * plane + q] = src[q * W + c];
}

// NCHW src (C = groups * cg) -> blocked dst [n][groups][cb][h+pt+pb][w+pl+pr][W],
// zeros in the padding and in the channels past cg.
template <class V, int W>
void to_blocked(const float* src, float* dst, int64_t n, int64_t groups, int64_t cg, int64_t cb, int64_t h, int64_t w,
                int64_t pt, int64_t pb, int64_t pl, int64_t pr) {
  const int64_t hp = h + pt + pb, wp = w + pl + pr;
  const int64_t planes = n * groups * cb;
  parallel_rows(planes * hp, planes * hp * wp * W, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / hp, y = r % hp;
      float* out = dst + (plane * hp + y) * wp * W;
      const int64_t sy = y - pt;
      if (sy < 0 || sy >= h) {
        for (int64_t i = 0; i < wp * W; ++i) out[i] = 0.0f;
        continue;
      }
      for (int64_t i = 0; i < pl * W; ++i) out[i] = 0.0f;
      for (int64_t i = (pl + w) * W; i < wp * W; ++i) out[i] = 0.0f;
      const int64_t img = plane / (groups * cb), g = (plane / cb) % groups, blk = plane % cb;
      const int64_t live = imin(W, cg - blk * W);  // channels of this block that exist
      float* row = out + pl * W;
      if (live == W) {
        const float* in = src + ((img * groups * cg + g * cg + blk * W) * h + sy) * w;
        if constexpr (W % 8 == 0) {
          channels_to_lanes<W>(in, h * w, w, row);  // 8 x 8 register transposes
        } else {  // a narrow input's few channels: pixel by pixel, 25-35% faster than channel by channel
          for (int64_t x = 0; x < w; ++x)
#pragma GCC unroll 16
            for (int c = 0; c < W; ++c) row[x * W + c] = in[c * h * w + x];
        }
        continue;
      }
      for (int64_t c = 0; c < W; ++c) {
        if (c < live) {
          const float* in = src + ((img * groups * cg + g * cg + blk * W + c) * h + sy) * w;
          for (int64_t x = 0; x < w; ++x) row[x * W + c] = in[x];
        } else {
          for (int64_t x = 0; x < w; ++x) row[x * W + c] = 0.0f;
        }
      }
    }
  });
}

// Blocked src [n][groups][cb][hp][wp][W] -> NCHW dst (C = groups * cg) of
// spatial size h x w, read from offset (top, left) of each blocked plane.
// Reads each blocked row once, contiguously, and writes its live channels'
// rows side by side.
template <class V, int W>
void from_blocked(const float* src, float* dst, int64_t n, int64_t groups, int64_t cg, int64_t cb, int64_t h, int64_t w,
                  int64_t hp, int64_t wp, int64_t top, int64_t left) {
  const int64_t planes = n * groups * cb;
  parallel_rows(planes * h, planes * h * w * W, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t plane = r / h, y = r % h;
      const int64_t img = plane / (groups * cb), g = (plane / cb) % groups, blk = plane % cb;
      const int64_t live = imin(W, cg - blk * W);
      const float* in = src + ((plane * hp + y + top) * wp + left) * W;
      float* out = dst + ((img * groups * cg + g * cg + blk * W) * h + y) * w;
      lanes_to_channels<W>(in, w, live, h * w, out);
    }
  });
}

// One (ob, ib) block of `taps` x W x W weights from OIHW rows: src[co] is the
// row of output channel co at input channel ib*W, `row` floats apart.
// Written in order (the innermost loop fills W consecutive floats, reading one
// float from each of W rows, all in L1); `IcInner`: the W floats are input
// channels, else output channels. Full blocks only; compile-time W and
// layout let the compiler turn the inner loop into register shuffles
// (3x faster than scattering each source row with runtime strides).
template <int W, bool IcInner>
void weight_block(const float* src, int64_t row, int64_t taps, bool flip, float* out) {
  for (int64_t t = 0; t < taps; ++t) {
    const int64_t st = flip ? taps - 1 - t : t;  // source tap
    for (int64_t u = 0; u < W; ++u) {            // ci (IcInner: co) of this output row
      float* o = out + (t * W + u) * W;
#pragma GCC unroll 16
      for (int v = 0; v < W; ++v) o[v] = IcInner ? src[u * row + v * taps + st] : src[v * row + u * taps + st];
    }
  }
}

// OIHW w -> blocked wb, one of two layouts (`ic_inner`: the vector is W input
// channels, else W output channels). `flip` mirrors the kernel taps (backward
// data as a forward convolution). One (ob, ib) block at a time; blocks with
// padding channels (a group's last) are zeroed and filled element by element.
template <class V, int W>
void weights_to_blocked(const float* w, float* wb, const ConvShape& s, const Blocking& b, bool ic_inner, bool flip) {
  const int64_t taps = s.kh * s.kw, block = taps * W * W, row = b.icg * taps;
  const int64_t outer = ic_inner ? b.icb : b.ocb, inner = ic_inner ? b.ocb : b.icb;
  const int64_t blocks = b.G * outer * inner;
  parallel_rows(blocks, blocks * block, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      // [G][OCB][ICB][taps][ci][co]  or  [G][ICB][OCB][taps][co][ci]
      const int64_t g = blk / (outer * inner), bo = (blk / inner) % outer, bi = blk % inner;
      const int64_t ob = ic_inner ? bi : bo, ib = ic_inner ? bo : bi;
      const int64_t live_o = imin(W, b.ocg - ob * W), live_i = imin(W, b.icg - ib * W);
      const float* src = w + (g * b.ocg + ob * W) * row + ib * W * taps;
      float* out = wb + blk * block;
      if (live_o == W && live_i == W) {
        if (ic_inner)
          weight_block<W, true>(src, row, taps, flip, out);
        else
          weight_block<W, false>(src, row, taps, flip, out);
        continue;
      }
      for (int64_t i = 0; i < block; ++i) out[i] = 0.0f;
      const int64_t o_step = ic_inner ? W : 1, i_step = ic_inner ? 1 : W;
      for (int64_t co = 0; co < live_o; ++co)
        for (int64_t ci = 0; ci < live_i; ++ci)
          for (int64_t t = 0; t < taps; ++t)
            out[(flip ? taps - 1 - t : t) * W * W + co * o_step + ci * i_step] = src[co * row + ci * taps + t];
    }
  });
}

// [G][OCB][ICB][KH][KW][W ic][W oc] -> OIHW (the live channels only), block by
// block as above: reads within one block, writes runs of taps.
template <class V, int W>
void forward_blocked_to_weights(const float* wb, float* w, const ConvShape& s, const Blocking& b) {
  const int64_t taps = s.kh * s.kw, block = taps * W * W;
  const int64_t blocks = b.G * b.ocb * b.icb;
  parallel_rows(blocks, blocks * block, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      const int64_t g = blk / (b.ocb * b.icb), ob = (blk / b.icb) % b.ocb, ib = blk % b.icb;
      const int64_t live_o = imin(W, b.ocg - ob * W), live_i = imin(W, b.icg - ib * W);
      const float* in = wb + blk * block;
      for (int64_t co = 0; co < live_o; ++co) {
        float* out = w + ((g * b.ocg + ob * W + co) * b.icg + ib * W) * taps;
        for (int64_t ci = 0; ci < live_i; ++ci)
          for (int64_t t = 0; t < taps; ++t) out[ci * taps + t] = in[(t * W + ci) * W + co];
      }
    }
  });
}

// ---------------------------------------------------------------------------
// The register tile shared by forward and backward-data
// ---------------------------------------------------------------------------

// A tile's reduction: three nested loops, each with a trip count and the
// steps it advances the source row and the weights by; inside, the W
// channels of one block are walked (source scalar c, weight vector c).
struct TileLoops {
  int64_t count[3];
  int64_t src_step[3];
  int64_t wei_step[3];
};

struct TileArgs {
  const float* src;   // source row at the tile's first column
  int64_t src_col;    // floats between consecutive columns of the tile
  const float* wei;   // weights of the first vector block
  int64_t wei_block;  // floats between vector blocks
  TileLoops loops;
  float* dst;                   // accumulators' home, first block and column
  int64_t dst_col, dst_block;   // floats between columns / between blocks
  const float* init = nullptr;  // NB*W start values (bias) or null for zero
  bool accumulate = false;      // start from dst instead (backward data)
  bool relu = false;            // fused ReLU on the final sums, in registers before the store
};

// acc[b][r] (+)= sum over the loops and c of wei[b][c] (vector) * src[r][c] (broadcast).
template <class V, int NB, int RW, int CI = V::width>
void conv_tile(const TileArgs& t) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg acc[NB][RW];
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b)
#pragma GCC unroll 16
    for (int r = 0; r < RW; ++r)
      acc[b][r] = t.accumulate ? V::load(t.dst + b * t.dst_block + r * t.dst_col)
                               : (t.init ? V::load(t.init + b * W) : V::zero());

  const TileLoops& L = t.loops;
  const int64_t src_col = t.src_col, wei_block = t.wei_block;
  for (int64_t i0 = 0; i0 < L.count[0]; ++i0)
    for (int64_t i1 = 0; i1 < L.count[1]; ++i1)
      for (int64_t i2 = 0; i2 < L.count[2]; ++i2) {
        const float* sp = t.src + i0 * L.src_step[0] + i1 * L.src_step[1] + i2 * L.src_step[2];
        const float* wp = t.wei + i0 * L.wei_step[0] + i1 * L.wei_step[1] + i2 * L.wei_step[2];
#pragma GCC unroll 16
        for (int c = 0; c < CI; ++c) {
          reg wv[NB];
#pragma GCC unroll 4
          for (int b = 0; b < NB; ++b) wv[b] = V::load(wp + b * wei_block + c * W);
#pragma GCC unroll 16
          for (int r = 0; r < RW; ++r) {
            const reg xv = V::set1(sp[r * src_col + c]);
#pragma GCC unroll 4
            for (int b = 0; b < NB; ++b) acc[b][r] = V::fmadd(wv[b], xv, acc[b][r]);
          }
        }
      }

  if (t.relu)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b)
#pragma GCC unroll 16
      for (int r = 0; r < RW; ++r) acc[b][r] = relu_vec<V>(acc[b][r]);
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b)
#pragma GCC unroll 16
    for (int r = 0; r < RW; ++r) V::store(t.dst + b * t.dst_block + r * t.dst_col, acc[b][r]);
}

// A tile of `rem` (1..R) columns: the tile instantiated for exactly rem.
template <class V, int NB, int R, int CI>
void conv_tile_tail(const TileArgs& t, int rem) {
  if constexpr (R > 0) {
    if (rem == R)
      conv_tile<V, NB, R, CI>(t);
    else
      conv_tile_tail<V, NB, R - 1, CI>(t, rem);
  }
}

// A row of `cols` columns for NB blocks, cut into the fewest tiles of at most
// RW columns, as even as possible (14 -> 5+5+4, not 6+6+2: a narrow tile has
// too few independent accumulators to hide the FMA latency).
template <class V, int NB, int CI>
void conv_row_blocks(TileArgs t, int64_t cols) {
  constexpr int RW = NB == 1 ? TileShape<V>::RW1 : TileShape<V>::RW;
  const int64_t tiles = ceil_div(cols, RW), base = cols / imax(1, tiles), wider = cols % imax(1, tiles);
  for (int64_t i = 0; i < tiles; ++i) {
    const int width = int(base + (i < wider ? 1 : 0));
    conv_tile_tail<V, NB, RW, CI>(t, width);
    t.src += width * t.src_col;
    t.dst += width * t.dst_col;
  }
}

// A row for `nb` <= NB blocks (fewer at the last block group).
template <class V, int CI = V::width>
void conv_row(TileArgs t, int64_t nb, int64_t cols) {
  constexpr int NB = TileShape<V>::NB;
  if (nb == NB) {
    conv_row_blocks<V, NB, CI>(t, cols);
    return;
  }
  if (nb == 2 && NB > 2) {  // 2 x RW tiles run at ~94% of 3 x RW, 1 x RW at ~74% (L1-resident, AVX2)
    conv_row_blocks<V, 2, CI>(t, cols);
    return;
  }
  for (int64_t b = 0; b < nb; ++b) {
    conv_row_blocks<V, 1, CI>(t, cols);
    t.wei += t.wei_block;
    t.dst += t.dst_block;
    if (t.init) t.init += V::width;
  }
}

// ---------------------------------------------------------------------------
// Forward: y = conv(x, w) + bias
// ---------------------------------------------------------------------------

// yb = conv(xb, wb) + bias on blocked, padded operands (xb padded per s,
// wb in the forward layout, bias NB-block padded or null), then relu(yb) when
// `relu`: in the tiles of the last input-channel chunk, before their store.
// Input blocks are CI channels wide: W, or all of a narrow input (CI = ICg < W,
// one block).
template <class V, int CI = V::width>
void forward_blocked(const ConvShape& s, const Blocking& b, const float* xb, const float* wb, const float* bias,
                     float* yb, bool relu = false) {
  constexpr int W = V::width;
  constexpr int NB = TileShape<V>::NB;
  const int64_t icb = CI == W ? b.icb : 1;
  const int64_t ob_groups = ceil_div(b.ocb, NB);
  const int64_t kk = s.kh * s.kw * CI * W;  // weights of one (ob, ib) block pair
  const int64_t icb_chunk = imax(1, kL1WeightBytes / int64_t(kk * NB * sizeof(float)));
  const int64_t plane = b.ihp * b.iwp * CI;
  const int64_t rows = forward_rows_per_item(s.oh, s.ow, s.n * b.G * ob_groups);
  const int64_t row_blocks = ceil_div(s.oh, rows);
  // Dynamic: items are many and equal, but a shared machine stalls threads unevenly.
  // Items from the tile pool (core/pool.h), not an OpenMP region: a thread the OS deschedules delays the
  // item it holds, not the whole call (issue 17); each item is computed by one thread as before.
  parallel_tiles(s.n * b.G * ob_groups * row_blocks, threads_for_flops(conv_flops(s)), [&](int64_t item) {
    const int64_t rb = item % row_blocks, j = item / row_blocks % ob_groups;
    const int64_t g = item / (row_blocks * ob_groups) % b.G, n = item / (row_blocks * ob_groups * b.G);
    const int64_t ob = j * NB, nb = imin(NB, b.ocb - ob);
    const int64_t oh0 = rb * rows, oh1 = imin(s.oh, oh0 + rows);
    TileArgs t;
    const float* src = xb + (n * b.G + g) * icb * plane;
    const float* wei = wb + (g * b.ocb + ob) * icb * kk;
    float* dst = yb + ((n * b.G + g) * b.ocb + ob) * s.oh * s.ow * W;
    t.src_col = s.sw * CI;
    t.wei_block = icb * kk;
    t.loops = {{icb, s.kh, s.kw}, {plane, s.dh * b.iwp * CI, s.dw * CI}, {kk, s.kw * CI * W, CI * W}};
    t.dst_col = W;
    t.dst_block = s.oh * s.ow * W;
    // Input-channel blocks in chunks whose weights stay in L1 while the
    // tiles sweep all rows of the item; later chunks accumulate onto the
    // rows in dst. Per output element the order of the sum is the same
    // whatever the rows per item, so it does not depend on the threads.
    for (int64_t ib = 0; ib < icb; ib += icb_chunk) {
      t.loops.count[0] = imin(icb_chunk, icb - ib);
      t.init = bias && ib == 0 ? bias + (g * b.ocb + ob) * W : nullptr;
      t.accumulate = ib > 0;
      t.relu = relu && ib + icb_chunk >= icb;  // these tiles hold the final sums
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        // Only the kernel rows that read inside the image (none: bias alone).
        const IndexRange kh = inside_image(oh * s.sh, s.dh, s.kh, s.pt, s.ih);
        t.loops.count[1] = kh.end - kh.begin;
        t.src = src + ib * plane + (oh * s.sh + kh.begin * s.dh) * b.iwp * CI;
        t.wei = wei + ib * kk + kh.begin * s.kw * CI * W;
        t.dst = dst + oh * s.ow * W;
        conv_row<V, CI>(t, nb, s.ow);
      }
    }
  });
}

// OIHW -> [G][OCB][KH][KW][CI ic][W oc]: the forward weights of a narrow input.
template <class V, int CI, int W>
void weights_to_narrow_blocked(const float* w, float* wb, const ConvShape& s, const Blocking& b) {
  const int64_t taps = s.kh * s.kw;
  parallel_each(b.G * b.ocb, threads_for_floats(b.G * b.ocb * taps * CI * W), [&](int64_t gob) {
    const int64_t g = gob / b.ocb, ob = gob % b.ocb;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t ci = 0; ci < CI; ++ci)
        for (int64_t co = 0; co < W; ++co) {
          const int64_t o = ob * W + co;
          wb[(((g * b.ocb + ob) * taps + t) * CI + ci) * W + co] =
              o < b.ocg ? w[((g * b.ocg + o) * CI + ci) * taps + t] : 0.0f;
        }
  });
}

// Forward of a convolution whose groups have CI < W input channels (a
// network's first layer: 1 or 3 channels): the input block holds exactly
// those channels, so no FMA is spent on channel padding.
template <class V, int CI>
void forward_narrow(const ConvForwardArgs& a, const float* bias) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const Blocking b = blocking_for(s, W);
  float* xb = conv_scratch(0, size_t(s.n * b.G * b.ihp * b.iwp * CI));
  float* wb = conv_scratch(1, size_t(b.G * b.ocb * s.kh * s.kw * CI * W));
  float* yb = conv_scratch(2, size_t(s.n * b.G * b.ocb * s.oh * s.ow * W));
  to_blocked<V, CI>(a.x, xb, s.n, b.G, b.icg, 1, s.ih, s.iw, s.pt, s.pb, s.pl, s.pr);
  weights_to_narrow_blocked<V, CI, W>(a.w, wb, s, b);
  forward_blocked<V, CI>(s, b, xb, wb, bias, yb, a.relu);
  from_blocked<V, W>(yb, a.y, s.n, b.G, b.ocg, b.ocb, s.oh, s.ow, s.oh, s.ow, 0, 0);
}

// The bias per output block (zero in the channel tail), or null.
template <class V>
const float* blocked_bias(const ConvForwardArgs& a, const Blocking& b) {
  constexpr int W = V::width;
  float* bias = a.bias ? conv_scratch(3, size_t(b.G * b.ocb * W)) : nullptr;
  if (bias)
    for (int64_t g = 0; g < b.G; ++g)
      for (int64_t o = 0; o < b.ocb * W; ++o) bias[g * b.ocb * W + o] = o < b.ocg ? a.bias[g * b.ocg + o] : 0.0f;
  return bias;
}

// f(std::integral_constant<int, CI>{}) for CI = icg, a narrow input's
// channels per group: 1..4, and up to 8 where a vector has 16 lanes (conv.h
// use_narrow; its registry entries decline the others).
template <class V, int CI = 1, class F>
void with_narrow_channels(int64_t icg, F&& f) {
  constexpr int64_t kMost = narrow_channels(V::width);
  if (icg == CI) return f(std::integral_constant<int, CI>{});
  if constexpr (CI < kMost)
    with_narrow_channels<V, CI + 1>(icg, f);
  else
    throw std::logic_error("conv narrow path: unsupported input channels per group");
}

// Narrow inputs: 1 (grey), 3 (RGB) channels per group, or a few more.
template <class V>
void conv2d_forward_narrow(const ConvForwardArgs& a) {
  const Blocking b = blocking_for(a.s, V::width);
  const float* bias = blocked_bias<V>(a, b);
  with_narrow_channels<V>(b.icg, [&](auto ci) { forward_narrow<V, decltype(ci)::value>(a, bias); });
}

template <class V>
void conv2d_forward_blocked(const ConvForwardArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const Blocking b = blocking_for(s, W);
  const float* bias = blocked_bias<V>(a, b);
  float* xb = conv_scratch(0, size_t(s.n * b.G * b.icb * b.ihp * b.iwp * W));
  float* wb = conv_scratch(1, size_t(b.G * b.ocb * b.icb * s.kh * s.kw * W * W));
  float* yb = conv_scratch(2, size_t(s.n * b.G * b.ocb * s.oh * s.ow * W));
  to_blocked<V, W>(a.x, xb, s.n, b.G, b.icg, b.icb, s.ih, s.iw, s.pt, s.pb, s.pl, s.pr);
  weights_to_blocked<V, W>(a.w, wb, s, b, false, false);
  forward_blocked<V>(s, b, xb, wb, bias, yb, a.relu);
  from_blocked<V, W>(yb, a.y, s.n, b.G, b.ocg, b.ocb, s.oh, s.ow, s.oh, s.ow, 0, 0);
}

// ---------------------------------------------------------------------------
// Backward data at stride 1 is a forward convolution of dy, padded by the
// dilated kernel extent minus the forward padding, with the kernel mirrored
// and its input/output channels swapped: the gather form, whose accumulators
// stay in registers over all (oc, kh, kw). Needs pad <= dilation * (k - 1).
// ---------------------------------------------------------------------------

// (backward_data_as_forward(s), the condition, is in conv.h.)

template <class V>
void backward_data_gather(const ConvBackwardDataArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  ConvShape t = s;  // the transposed convolution: dy -> dx
  t.ic = s.oc;
  t.ih = s.oh;
  t.iw = s.ow;
  t.oc = s.ic;
  t.oh = s.ih;
  t.ow = s.iw;
  t.pt = s.dh * (s.kh - 1) - s.pt;
  t.pb = s.dh * (s.kh - 1) - s.pb;
  t.pl = s.dw * (s.kw - 1) - s.pl;
  t.pr = s.dw * (s.kw - 1) - s.pr;
  const Blocking b = blocking_for(s, W);
  const Blocking bt = blocking_for(t, W);
  float* dyb = conv_scratch(0, size_t(t.n * bt.G * bt.icb * bt.ihp * bt.iwp * W));
  float* wb = conv_scratch(1, size_t(bt.G * bt.ocb * bt.icb * t.kh * t.kw * W * W));
  float* dxb = conv_scratch(2, size_t(t.n * bt.G * bt.ocb * t.oh * t.ow * W));

  to_blocked<V, W>(a.dy, dyb, t.n, bt.G, bt.icg, bt.icb, t.ih, t.iw, t.pt, t.pb, t.pl, t.pr);
  // [G][ICB][OCB][taps mirrored][oc][ic] of w is the forward layout of the transposed kernel.
  weights_to_blocked<V, W>(a.w, wb, s, b, true, true);
  forward_blocked<V>(t, bt, dyb, wb, nullptr, dxb);
  from_blocked<V, W>(dxb, a.dx, t.n, bt.G, bt.ocg, bt.ocb, t.oh, t.ow, t.oh, t.ow, 0, 0);
}

// ---------------------------------------------------------------------------
// Backward data: dx = conv_transpose(dy, w), as a scatter from each output
// row into the padded, blocked dx. Threads own disjoint dx rows (a chunk of
// padded rows of a block group), so the accumulation never races.
// ---------------------------------------------------------------------------

template <class V>
void conv2d_backward_data_scatter(const ConvBackwardDataArgs& a) {
  constexpr int W = V::width;
  constexpr int NB = TileShape<V>::NB;
  const ConvShape& s = a.s;
  const Blocking b = blocking_for(s, W);
  float* dyb = conv_scratch(0, size_t(s.n * b.G * b.ocb * s.oh * s.ow * W));
  float* wb = conv_scratch(1, size_t(b.G * b.icb * b.ocb * s.kh * s.kw * W * W));
  float* dxb = conv_scratch(2, size_t(s.n * b.G * b.icb * b.ihp * b.iwp * W));

  to_blocked<V, W>(a.dy, dyb, s.n, b.G, b.ocg, b.ocb, s.oh, s.ow, 0, 0, 0, 0);
  weights_to_blocked<V, W>(a.w, wb, s, b, true, false);

  const int64_t ib_groups = ceil_div(b.icb, NB);
  const int64_t kk = s.kh * s.kw * W * W;
  const int64_t plane = b.ihp * b.iwp * W;
  // Enough row chunks for about four work items per thread.
  const int64_t items = s.n * b.G * ib_groups;
  const int64_t chunks = imin(b.ihp, imax(1, ceil_div(4 * get_num_threads(), imax(1, items))));
  const int64_t chunk_rows = ceil_div(b.ihp, chunks);
  // Items from the tile pool (core/pool.h), not an OpenMP region: a thread the OS deschedules delays the
  // item it holds, not the whole call (issue 17); each item is computed by one thread as before.
  parallel_tiles(s.n * b.G * ib_groups * chunks, threads_for_flops(conv_flops(s)), [&](int64_t item) {
    const int64_t chunk = item % chunks, j = item / chunks % ib_groups;
    const int64_t g = item / (chunks * ib_groups) % b.G, n = item / (chunks * ib_groups * b.G);
    const int64_t ib = j * NB, nb = imin(NB, b.icb - ib);
    const int64_t r0 = chunk * chunk_rows, r1 = imin(b.ihp, r0 + chunk_rows);
    float* dx = dxb + ((n * b.G + g) * b.icb + ib) * plane;
    for (int64_t blk = 0; blk < nb; ++blk)
      for (int64_t i = r0 * b.iwp * W; i < r1 * b.iwp * W; ++i) dx[blk * plane + i] = 0.0f;
    for (int64_t oh = 0; oh < s.oh; ++oh)
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t row = oh * s.sh + kh * s.dh;  // padded dx row this tap writes
        // Rows of dx's padding are never read back (from_blocked copies the interior).
        if (row < r0 || row >= r1 || row < s.pt || row >= s.pt + s.ih) continue;
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          TileArgs t;
          t.src = dyb + ((n * b.G + g) * b.ocb * s.oh + oh) * s.ow * W;
          t.src_col = W;
          t.wei = wb + ((g * b.icb + ib) * b.ocb * s.kh * s.kw + kh * s.kw + kw) * W * W;
          t.wei_block = b.ocb * kk;
          t.loops = {{b.ocb, 1, 1}, {s.oh * s.ow * W, 0, 0}, {kk, 0, 0}};
          t.dst = dx + (row * b.iwp + kw * s.dw) * W;
          t.dst_col = s.sw * W;
          t.dst_block = plane;
          t.accumulate = true;
          conv_row<V>(t, nb, s.ow);
        }
      }
  });

  from_blocked<V, W>(dxb, a.dx, s.n, b.G, b.icg, b.icb, s.ih, s.iw, b.ihp, b.iwp, s.pt, s.pl);
}

// ---------------------------------------------------------------------------
// Backward weights: dw[o, i, kh, kw] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, i, ih, iw].
// Threads own disjoint (g, ob, ib, kh) slices of dw: no reduction across
// threads, so the result does not depend on the thread count.
// ---------------------------------------------------------------------------

// One (kh, kw) tap of one (ob, ib) block pair: acc[ci] is the vector of W
// output channels for input channel ci of the block.
// Only the outputs whose tap reads inside the image: rows `oh`, columns `ow`.
template <class V>
void weights_tap(const float* xb, const float* dyb, float* out, const ConvShape& s, const Blocking& b,
                 int64_t x_img_step, int64_t dy_img_step, IndexRange oh_in, IndexRange ow_in) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg acc[W];
#pragma GCC unroll 16
  for (int c = 0; c < W; ++c) acc[c] = V::zero();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oh = oh_in.begin; oh < oh_in.end; ++oh) {
      const float* xrow = xb + n * x_img_step + oh * s.sh * b.iwp * W;
      const float* dyrow = dyb + n * dy_img_step + oh * s.ow * W;
      for (int64_t ow = ow_in.begin; ow < ow_in.end; ++ow) {
        const reg dv = V::load(dyrow + ow * W);
        const float* xp = xrow + ow * s.sw * W;
#pragma GCC unroll 16
        for (int c = 0; c < W; ++c) acc[c] = V::fmadd(dv, V::set1(xp[c]), acc[c]);
      }
    }
#pragma GCC unroll 16
  for (int c = 0; c < W; ++c) V::store(out + c * W, acc[c]);
}

// Stride 1: KT kernel columns of a kernel row at once. Input column j feeds
// tap kt at output column j - kt * dw, so one broadcast of x[j][c] serves KT
// FMAs (one per tap) where weights_tap spends a broadcast per FMA, and x and
// dy are read once per pass instead of once per tap. The FMAs are
// weights_tap's, in its order (per tap: n, oh, then ow ascending), so the
// sums are bitwise the same (checked against it on 3x3, 5x5, 3x7 kernels
// with padding and dilation). acc[kt][c] holds C of the block's W input
// channels: KT x C accumulators + KT dy vectors + one broadcast fill the
// register file (AVX2: 3 x 4 + 3 + 1 = 16).
template <class V, int KT>
struct SlidingTaps {
  static constexpr int most = (TileShape<V>::kRegs - KT - 1) / KT;
  static constexpr int C = most >= V::width ? V::width : most >= 8 ? 8 : most >= 4 ? 4 : most >= 2 ? 2 : 1;
};
constexpr int kSlidingColumns = 3;  // kernel columns per pass (a 5x5 kernel: 3 + 2)
// Images per chunk: their x and dy planes of the block pair (256 KiB) stay in
// L2 while every pass and channel group walks them. 2 threads, ms, chunked vs
// all images at once: 64x64x56x56 3x3 249 vs 275, MNIST conv2 25.0 vs 26.4.
constexpr int64_t kSlidingChunkBytes = 1 << 18;

// Where the sliding kernel runs: stride 1, rows of at least 7 columns (a row
// has 2 (KT - 1) edge columns where some taps read outside), 8-lane vectors.
// Measured on AVX2 (Zen, 2 threads, batch 64, ms per-tap -> sliding, oneDNN
// 3.2 beside): MNIST conv2 32->64 3x3 on 26x26 28.7 -> 24.5 (oneDNN 26.5),
// 64 ch 56x56 3x3 pad 1 394 -> 251, 128 ch 14x14 73.7 -> 60.3, 256 ch 7x7
// (batch 32) 36.1 -> 32.4, 64 ch 8x8 6.25 -> 5.50, LeNet conv2 20->50 5x5
// on 12x12 6.24 -> 5.66; 1 thread: 64 ch 4x4 2.99 -> 3.10 (hence the
// 7-column floor). AVX-512 (16 lanes) keeps weights_tap: not measured on an
// AVX-512 machine (this one has AVX2 only).
constexpr int64_t kSlidingMinColumns = 7;
constexpr int kSlidingLanes = 8;
inline bool use_sliding_taps(const ConvShape& s) { return s.sw == 1 && s.ow >= kSlidingMinColumns; }

// Where each tap's output columns lie along x (ow_in[kt] shifted by kt * dw):
// [lo, hi) spans every tap's, [steady_lo, steady_hi) is where all taps read inside.
struct SlidingSpan {
  int64_t lo = INT64_MAX, hi = INT64_MIN, steady_lo = INT64_MIN, steady_hi = INT64_MAX;
};

// One input column j: the taps whose bit is set in Valid (the others' output
// column j - kt * dw lies outside their range).
template <class V, int KT, int C, unsigned Valid>
DLCORE_INLINE void sliding_column(typename V::reg (&acc)[KT][C], const float* xrow, const float* dyrow, int64_t j,
                                  int64_t dw) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg dv[KT];
#pragma GCC unroll 8
  for (int kt = 0; kt < KT; ++kt)
    if (Valid >> kt & 1u) dv[kt] = V::load(dyrow + (j - kt * dw) * W);
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) {
    const reg xv = V::set1(xrow[j * W + c]);
#pragma GCC unroll 8
    for (int kt = 0; kt < KT; ++kt)
      if (Valid >> kt & 1u) acc[kt][c] = V::fmadd(dv[kt], xv, acc[kt][c]);
  }
}

// An edge column, where some taps read outside: the column instantiated for
// its set of valid taps (one jump, then straight-line code as in the middle).
template <class V, int KT, int C, unsigned Valid = 1>
DLCORE_INLINE void sliding_edge_column(unsigned valid, typename V::reg (&acc)[KT][C], const float* xrow,
                                       const float* dyrow, int64_t j, int64_t dw) {
  if constexpr (Valid < (1u << KT)) {
    if (valid == Valid) return sliding_column<V, KT, C, Valid>(acc, xrow, dyrow, j, dw);
    sliding_edge_column<V, KT, C, Valid + 1>(valid, acc, xrow, dyrow, j, dw);
  }
}

// x: the block's padded input at the group's first tap (row kh * dh, column
// kw0 * dw) and channel c0; out: that tap's W x W block at row c0. Images
// `imgs`, continuing the sums already in out when `accumulate`.
template <class V, int KT, int C>
void weights_taps_sliding(const float* x, const float* dy, float* out, const ConvShape& s, const Blocking& b,
                          int64_t x_img_step, int64_t dy_img_step, IndexRange imgs, IndexRange oh_in,
                          const IndexRange* ow_in, bool accumulate) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg acc[KT][C];
#pragma GCC unroll 8
  for (int kt = 0; kt < KT; ++kt)
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) acc[kt][c] = accumulate ? V::load(out + kt * W * W + c * W) : V::zero();
  SlidingSpan sp;
  for (int kt = 0; kt < KT; ++kt) {
    const int64_t lo = ow_in[kt].begin + kt * s.dw, hi = ow_in[kt].end + kt * s.dw;
    if (lo < hi) sp.lo = imin(sp.lo, lo), sp.hi = imax(sp.hi, hi);
    sp.steady_lo = imax(sp.steady_lo, lo), sp.steady_hi = imin(sp.steady_hi, hi);
  }
  if (sp.steady_hi < sp.steady_lo) sp.steady_lo = sp.steady_hi = sp.hi;  // no steady part: all checked
  const auto valid_taps = [&](int64_t j) {
    unsigned valid = 0;
    for (int kt = 0; kt < KT; ++kt)
      if (j - kt * s.dw >= ow_in[kt].begin && j - kt * s.dw < ow_in[kt].end) valid |= 1u << kt;
    return valid;
  };
  for (int64_t n = imgs.begin; n < imgs.end; ++n)
    for (int64_t oh = oh_in.begin; oh < oh_in.end; ++oh) {
      const float* xrow = x + n * x_img_step + oh * s.sh * b.iwp * W;
      const float* dyrow = dy + n * dy_img_step + oh * s.ow * W;
      int64_t j = sp.lo;
      for (; j < sp.steady_lo; ++j) sliding_edge_column<V, KT, C>(valid_taps(j), acc, xrow, dyrow, j, s.dw);
      for (; j < sp.steady_hi; ++j) sliding_column<V, KT, C, (1u << KT) - 1>(acc, xrow, dyrow, j, s.dw);
      for (; j < sp.hi; ++j) sliding_edge_column<V, KT, C>(valid_taps(j), acc, xrow, dyrow, j, s.dw);
    }
#pragma GCC unroll 8
  for (int kt = 0; kt < KT; ++kt)
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) V::store(out + kt * W * W + c * W, acc[kt][c]);
}

// `kt` (1..KT) kernel columns: the kernel instantiated for exactly kt.
template <class V, int KT>
void weights_taps_sliding_tail(int kt, const float* x, const float* dy, float* out, const ConvShape& s,
                               const Blocking& b, int64_t x_img_step, int64_t dy_img_step, IndexRange imgs,
                               IndexRange oh_in, const IndexRange* ow_in, bool accumulate) {
  if constexpr (KT > 0) {
    if (kt != KT)
      return weights_taps_sliding_tail<V, KT - 1>(kt, x, dy, out, s, b, x_img_step, dy_img_step, imgs, oh_in, ow_in,
                                                  accumulate);
    constexpr int C = SlidingTaps<V, KT>::C;
    for (int c0 = 0; c0 < V::width; c0 += C)
      weights_taps_sliding<V, KT, C>(x + c0, dy, out + c0 * V::width, s, b, x_img_step, dy_img_step, imgs, oh_in, ow_in,
                                     accumulate);
  }
}

// db[o] = sum over n, oh, ow of dy[n, o] (straight from NCHW).
template <class V>
void bias_gradient(const float* dy, float* db, const ConvShape& s) {
  constexpr int W = V::width;
  const int64_t hw = s.oh * s.ow;
  parallel_each(s.oc, threads_for_floats(s.n * s.oc * hw), [&](int64_t o) {
    typename V::reg acc = V::zero();
    float tail = 0.0f;
    for (int64_t n = 0; n < s.n; ++n) {
      const float* p = dy + (n * s.oc + o) * hw;
      int64_t i = 0;
      for (; i + W <= hw; i += W) acc = V::add(acc, V::load(p + i));
      for (; i < hw; ++i) tail += p[i];
    }
    db[o] = V::reduce_add(acc) + tail;
  });
}

// Narrow inputs (CI < W channels per group, a first layer): acc[t][c] covers
// KT kernel columns of the CI channels at once, so each dy vector feeds
// KT*CI FMAs instead of W FMAs of which W - CI would be channel padding.
template <class V, int CI>
struct NarrowTaps {
  static constexpr int KT = (TileShape<V>::kRegs - 4) / CI;  // AVX2 with RGB: 4 columns, 12 acc
};

template <class V, int CI, int KT>
void weights_taps_narrow(const float* x, const float* dy, float* out, const ConvShape& s, int64_t iwp,
                         int64_t x_img_step, int64_t dy_img_step, IndexRange oh_in) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  reg acc[KT][CI];
#pragma GCC unroll 16
  for (int t = 0; t < KT; ++t)
#pragma GCC unroll 4
    for (int c = 0; c < CI; ++c) acc[t][c] = V::zero();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oh = oh_in.begin; oh < oh_in.end; ++oh) {
      const float* xrow = x + n * x_img_step + oh * s.sh * iwp * CI;
      const float* dyrow = dy + n * dy_img_step + oh * s.ow * W;
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const reg dv = V::load(dyrow + ow * W);
        const float* xp = xrow + ow * s.sw * CI;
#pragma GCC unroll 16
        for (int t = 0; t < KT; ++t)
#pragma GCC unroll 4
          for (int c = 0; c < CI; ++c) acc[t][c] = V::fmadd(dv, V::set1(xp[t * s.dw * CI + c]), acc[t][c]);
      }
    }
#pragma GCC unroll 16
  for (int t = 0; t < KT; ++t)
#pragma GCC unroll 4
    for (int c = 0; c < CI; ++c) V::store(out + (t * CI + c) * W, acc[t][c]);
}

// `kt` (1..KT) kernel columns: the kernel instantiated for exactly kt.
template <class V, int CI, int KT>
void weights_taps_narrow_tail(int kt, const float* x, const float* dy, float* out, const ConvShape& s, int64_t iwp,
                              int64_t x_img_step, int64_t dy_img_step, IndexRange oh_in) {
  if constexpr (KT > 0) {
    if (kt == KT)
      weights_taps_narrow<V, CI, KT>(x, dy, out, s, iwp, x_img_step, dy_img_step, oh_in);
    else
      weights_taps_narrow_tail<V, CI, KT - 1>(kt, x, dy, out, s, iwp, x_img_step, dy_img_step, oh_in);
  }
}

template <class V, int CI>
void backward_weights_narrow(const ConvBackwardWeightsArgs& a) {
  constexpr int W = V::width;
  constexpr int KT = NarrowTaps<V, CI>::KT;
  const ConvShape& s = a.s;
  const Blocking b = blocking_for(s, W);
  const int64_t taps = s.kh * s.kw;
  float* xb = conv_scratch(0, size_t(s.n * b.G * b.ihp * b.iwp * CI));
  float* dyb = conv_scratch(1, size_t(s.n * b.G * b.ocb * s.oh * s.ow * W));
  float* dwb = conv_scratch(2, size_t(b.G * b.ocb * taps * CI * W));  // [G][OCB][KH][KW][CI][W]
  to_blocked<V, CI>(a.x, xb, s.n, b.G, b.icg, 1, s.ih, s.iw, s.pt, s.pb, s.pl, s.pr);
  to_blocked<V, W>(a.dy, dyb, s.n, b.G, b.ocg, b.ocb, s.oh, s.ow, 0, 0, 0, 0);

  const int64_t x_plane = b.ihp * b.iwp * CI, dy_plane = s.oh * s.ow * W;
  const int64_t col_groups = ceil_div(s.kw, KT);
  // Items from the tile pool (core/pool.h), not an OpenMP region: a thread the OS deschedules delays the
  // item it holds, not the whole call (issue 17); each item is computed by one thread as before.
  parallel_tiles(b.G * b.ocb * s.kh * col_groups, threads_for_flops(conv_flops(s)), [&](int64_t item) {
    const int64_t j = item % col_groups, kh = item / col_groups % s.kh;
    const int64_t ob = item / (col_groups * s.kh) % b.ocb, g = item / (col_groups * s.kh * b.ocb);
    const int64_t kw = j * KT;
    const float* x = xb + g * x_plane + (kh * s.dh * b.iwp + kw * s.dw) * CI;
    const float* dy = dyb + (g * b.ocb + ob) * dy_plane;
    float* out = dwb + (((g * b.ocb + ob) * s.kh + kh) * s.kw + kw) * CI * W;
    weights_taps_narrow_tail<V, CI, KT>(int(imin(KT, s.kw - kw)), x, dy, out, s, b.iwp, b.G * x_plane,
                                        b.G * b.ocb * dy_plane, inside_image(kh * s.dh, s.sh, s.oh, s.pt, s.ih));
  });

  for (int64_t o = 0; o < s.oc; ++o) {
    const int64_t g = o / b.ocg, ob = (o % b.ocg) / W, co = (o % b.ocg) % W;
    for (int64_t c = 0; c < CI; ++c)
      for (int64_t t = 0; t < taps; ++t)
        a.dw[(o * CI + c) * taps + t] = dwb[(((g * b.ocb + ob) * taps + t) * CI + c) * W + co];
  }
  if (a.db) bias_gradient<V>(a.dy, a.db, s);
}

template <class V>
void conv2d_backward_weights_narrow(const ConvBackwardWeightsArgs& a) {
  with_narrow_channels<V>(a.s.icg(), [&](auto ci) { backward_weights_narrow<V, decltype(ci)::value>(a); });
}

// One kernel row of dw at stride 1 (x, out: at its first tap; steps as for
// weights_tap): the kernel columns in passes of at most kSlidingColumns, as
// even as possible (5 -> 3 + 2), over chunks of images small enough to stay
// in L2 across the passes.
template <class V>
void weights_row_sliding(const float* x, const float* dy, float* out, const ConvShape& s, const Blocking& b,
                         int64_t x_img_step, int64_t dy_img_step, IndexRange oh_in) {
  constexpr int W = V::width;
  const int64_t img_bytes = (b.ihp * b.iwp + s.oh * s.ow) * W * int64_t(sizeof(float));  // one block pair
  const int64_t chunk = imax(1, kSlidingChunkBytes / img_bytes);
  const int64_t passes = ceil_div(s.kw, kSlidingColumns);
  IndexRange ow_in[kSlidingColumns];
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const IndexRange imgs{n0, imin(s.n, n0 + chunk)};
    for (int64_t p = 0, kw0 = 0; p < passes; ++p) {
      const int64_t kt = s.kw / passes + (p < s.kw % passes ? 1 : 0);
      for (int64_t t = 0; t < kt; ++t) ow_in[t] = inside_image((kw0 + t) * s.dw, 1, s.ow, s.pl, s.iw);
      weights_taps_sliding_tail<V, kSlidingColumns>(int(kt), x + kw0 * s.dw * W, dy, out + kw0 * W * W, s, b,
                                                    x_img_step, dy_img_step, imgs, oh_in, ow_in, n0 > 0);
      kw0 += kt;
    }
  }
}

template <class V>
void conv2d_backward_weights_blocked(const ConvBackwardWeightsArgs& a) {
  constexpr int W = V::width;
  const ConvShape& s = a.s;
  const Blocking b = blocking_for(s, W);
  float* xb = conv_scratch(0, size_t(s.n * b.G * b.icb * b.ihp * b.iwp * W));
  float* dyb = conv_scratch(1, size_t(s.n * b.G * b.ocb * s.oh * s.ow * W));
  float* dwb = conv_scratch(2, size_t(b.G * b.ocb * b.icb * s.kh * s.kw * W * W));

  to_blocked<V, W>(a.x, xb, s.n, b.G, b.icg, b.icb, s.ih, s.iw, s.pt, s.pb, s.pl, s.pr);
  to_blocked<V, W>(a.dy, dyb, s.n, b.G, b.ocg, b.ocb, s.oh, s.ow, 0, 0, 0, 0);

  const int64_t x_plane = b.ihp * b.iwp * W, dy_plane = s.oh * s.ow * W;
  const int64_t x_img_step = b.G * b.icb * x_plane, dy_img_step = b.G * b.ocb * dy_plane;
  // Items from the tile pool (core/pool.h), not an OpenMP region: a thread the OS deschedules delays the
  // item it holds, not the whole call (issue 17); each item is computed by one thread as before.
  parallel_tiles(b.G * b.ocb * b.icb * s.kh, threads_for_flops(conv_flops(s)), [&](int64_t item) {
    const int64_t kh = item % s.kh, ib = item / s.kh % b.icb;
    const int64_t ob = item / (s.kh * b.icb) % b.ocb, g = item / (s.kh * b.icb * b.ocb);
    const IndexRange oh_in = inside_image(kh * s.dh, s.sh, s.oh, s.pt, s.ih);
    // Kernel row kh at its first tap (kw = 0): tap kw lies kw * dw columns further in x, kw blocks in out.
    const float* x = xb + (g * b.icb + ib) * x_plane + kh * s.dh * b.iwp * W;
    const float* dy = dyb + (g * b.ocb + ob) * dy_plane;
    float* out = dwb + (((g * b.ocb + ob) * b.icb + ib) * s.kh + kh) * s.kw * W * W;
    if constexpr (V::width == kSlidingLanes)
      if (use_sliding_taps(s)) return weights_row_sliding<V>(x, dy, out, s, b, x_img_step, dy_img_step, oh_in);
    for (int64_t kw = 0; kw < s.kw; ++kw)
      weights_tap<V>(x + kw * s.dw * W, dy, out + kw * W * W, s, b, x_img_step, dy_img_step, oh_in,
                     inside_image(kw * s.dw, s.sw, s.ow, s.pl, s.iw));
  });

  forward_blocked_to_weights<V, W>(dwb, a.dw, s, b);
  if (a.db) bias_gradient<V>(a.dy, a.db, s);
}

}  // namespace
}  // namespace dlcore

#include "ops/conv/depthwise_kernels.h"

namespace dlcore {
namespace {

// One ISA's direct algorithms, for its registry entries (conv.h ConvAlgorithms).
template <class V>
ConvAlgorithms conv_algorithm_table() {
  return {&depthwise_forward<V>,          &conv2d_forward_narrow<V>,          &conv2d_forward_blocked<V>,
          &depthwise_backward_data<V>,    &backward_data_gather<V>,           &conv2d_backward_data_scatter<V>,
          &depthwise_backward_weights<V>, &conv2d_backward_weights_narrow<V>, &conv2d_backward_weights_blocked<V>};
}

}  // namespace
}  // namespace dlcore
