// The loops of the binary kernels, written once over a popcount policy `Pop`:
//   Pop::count4(x, w0, w1, w2, w3, nwords, cnt)  cnt[j] += popcount(x XOR wj) over nwords words
//   Pop::count1(x, w, nwords)                    popcount(x XOR w) over nwords words
//   Pop::count_spans<J>(spans, n, w, wstride, cnt)  cnt[j] += sum over the spans of
//                     popcount(span.x XOR (w + j*wstride + span.woff)) over span.nw words
// Include only from binary_<isa>.cpp (each compiled with its ISA's flags).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include <vector>

#include "core/threads.h"
#include "ops/binary/binary.h"

namespace dlcore {
namespace {

// x words of one run of valid taps, and where the matching weights start
// within an output channel's (KH, KW, WCg) words.
struct BinarySpan {
  const uint64_t* x;
  int64_t woff;
  int64_t nw;
};

inline float binary_out(const float* scale, const float* bias, int64_t o, int64_t dot) {
  const float s = scale ? scale[o] : 1.0f, b = bias ? bias[o] : 0.0f;
  return s * float(dot) + b;
}

// Output rows (image, oh) are the parallel unit. Per output pixel, the valid
// taps become a list of spans (x words, offset into a channel's weights,
// length); Pop::count_spans runs the whole list for 4 output channels at a
// time, so the popcount's widening and horizontal sums happen once per pixel.
//
// Grouped convolutions: the packed input interleaves the groups per pixel
// ((N, H, W, groups x WCg) words), so a group's taps along a kernel row are
// WCg words every WC: one span per tap, which at AlexNet conv2's WCg = 1 made
// the popcount loop run one word at a time (0.76x float32). The input is
// first regrouped to (groups, N, H, W, WCg), a copy of its few words, after
// which a group's kernel row is again one contiguous span.
template <class Pop>
void binary_conv2d_impl(const BinaryConvArgs& a) {
  const ConvShape& s = a.s;
  const int64_t wcg = a.wcg, icg = s.icg(), ocg = s.ocg();
  const int64_t wstride = s.kh * s.kw * wcg;  // words per output channel
  const bool regroup = s.groups > 1 && s.dw == 1;
  std::vector<uint64_t> xg;
  const uint64_t* xbase = a.x;
  const int64_t plane = s.n * s.ih * s.iw * wcg;  // words of one group after regrouping
  if (regroup) {
    xg.resize(size_t(s.groups * plane));
    const int64_t pixels = s.n * s.ih * s.iw, wc_in = s.groups * wcg;
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t q = 0; q < wcg; ++q) xg[size_t(g * plane + p * wcg + q)] = a.x[p * wc_in + g * wcg + q];
    xbase = xg.data();
  }
  // Words per pixel in the layout read, and where group g starts.
  const int64_t wc = regroup ? wcg : s.groups * wcg;
  auto group_base = [&](int64_t g) { return regroup ? xbase + g * plane : xbase + g * wcg; };
  // One span per kernel row when the taps of a row are adjacent in memory.
  const bool row_spans = (s.groups == 1 || regroup) && s.dw == 1;
  const int64_t rows = s.n * s.oh;
  const int nt = int(std::min<int64_t>(get_num_threads(), std::max<int64_t>(rows, 1)));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<BinarySpan> spans(size_t(s.kh * s.kw));
#pragma omp for schedule(dynamic, 1)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / s.oh, oh = r % s.oh;
      // Valid kernel rows: the same for the whole output row.
      int64_t kh0 = s.kh, kh1 = 0;
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t ih = oh * s.sh - s.pt + kh * s.dh;
        if (ih >= 0 && ih < s.ih) kh0 = std::min(kh0, kh), kh1 = kh + 1;
      }
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        int64_t kw0 = s.kw, kw1 = 0;
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          const int64_t iw = ow * s.sw - s.pl + kw * s.dw;
          if (iw >= 0 && iw < s.iw) kw0 = std::min(kw0, kw), kw1 = kw + 1;
        }
        // Valid taps form the rectangle (kh0..kh1) x (kw0..kw1): dilation
        // keeps the valid rows (columns) contiguous in kernel index.
        const int64_t valid = std::max<int64_t>(0, kh1 - kh0) * std::max<int64_t>(0, kw1 - kw0);
        const int64_t iw0 = ow * s.sw - s.pl + kw0 * s.dw;
        for (int64_t g = 0; g < s.groups; ++g) {
          int64_t ns = 0;
          for (int64_t kh = kh0; kh < kh1 && kw1 > kw0; ++kh) {
            const int64_t ih = oh * s.sh - s.pt + kh * s.dh;
            const uint64_t* xrow = group_base(g) + ((n * s.ih + ih) * s.iw) * wc;
            if (row_spans) {
              spans[size_t(ns++)] = {xrow + iw0 * wc, (kh * s.kw + kw0) * wcg, (kw1 - kw0) * wcg};
            } else {
              for (int64_t kw = kw0; kw < kw1; ++kw)
                spans[size_t(ns++)] = {xrow + (iw0 + (kw - kw0) * s.dw) * wc, (kh * s.kw + kw) * wcg, wcg};
            }
          }
          int64_t o = g * ocg;
          const int64_t oend = (g + 1) * ocg;
          for (; o + 4 <= oend; o += 4) {
            uint64_t cnt[4] = {0, 0, 0, 0};
            Pop::template count_spans<4>(spans.data(), ns, a.w + o * wstride, wstride, cnt);
            for (int j = 0; j < 4; ++j)
              a.y[((n * s.oc + o + j) * s.oh + oh) * s.ow + ow] =
                  binary_out(a.scale, a.bias, o + j, valid * icg - 2 * int64_t(cnt[j]));
          }
          for (; o < oend; ++o) {
            uint64_t cnt = 0;
            Pop::template count_spans<1>(spans.data(), ns, a.w + o * wstride, wstride, &cnt);
            a.y[((n * s.oc + o) * s.oh + oh) * s.ow + ow] =
                binary_out(a.scale, a.bias, o, valid * icg - 2 * int64_t(cnt));
          }
        }
      }
    }
  }
}

template <class Pop>
void binary_gemm_impl(const BinaryGemmArgs& a) {
  const int64_t W = a.words;
  const int nt = int(std::min<int64_t>(get_num_threads(), std::max<int64_t>(a.m, 1)));
  const bool par = nt > 1 && a.m * a.n * W >= (1 << 14);
#pragma omp parallel for num_threads(nt) schedule(static) if (par)
  for (int64_t i = 0; i < a.m; ++i) {
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
  }
}

}  // namespace
}  // namespace dlcore
