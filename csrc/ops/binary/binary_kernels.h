// The loops of the binary kernels, written once over a popcount policy `Pop`:
//   Pop::count4(x, w0, w1, w2, w3, nwords, cnt)  cnt[j] += popcount(x XOR wj) over nwords words
//   Pop::count1(x, w, nwords)                    popcount(x XOR w) over nwords words
// Include only from binary_<isa>.cpp (each compiled with its ISA's flags).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "core/threads.h"
#include "ops/binary/binary.h"

namespace dlcore {
namespace {

inline float binary_out(const float* scale, const float* bias, int64_t o, int64_t dot) {
  const float s = scale ? scale[o] : 1.0f, b = bias ? bias[o] : 0.0f;
  return s * float(dot) + b;
}

// Output rows (image, oh) are the parallel unit.
template <class Pop>
void binary_conv2d_impl(const BinaryConvArgs& a) {
  const ConvShape& s = a.s;
  const int64_t wcg = a.wcg, wc = s.groups * wcg, icg = s.icg(), ocg = s.ocg();
  const int64_t wstride = s.kh * s.kw * wcg;  // words per output channel
  // One span per kernel row when the taps of a row are adjacent in memory.
  const bool row_spans = s.groups == 1 && s.dw == 1;
  const int64_t rows = s.n * s.oh;
  const int nt = int(std::min<int64_t>(get_num_threads(), std::max<int64_t>(rows, 1)));
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / s.oh, oh = r % s.oh;
    for (int64_t ow = 0; ow < s.ow; ++ow) {
      // Valid taps: kernel rows and columns that land inside the image.
      int64_t kh0 = s.kh, kh1 = 0, kw0 = s.kw, kw1 = 0;
      for (int64_t kh = 0; kh < s.kh; ++kh) {
        const int64_t ih = oh * s.sh - s.pt + kh * s.dh;
        if (ih >= 0 && ih < s.ih) kh0 = std::min(kh0, kh), kh1 = kh + 1;
      }
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t iw = ow * s.sw - s.pl + kw * s.dw;
        if (iw >= 0 && iw < s.iw) kw0 = std::min(kw0, kw), kw1 = kw + 1;
      }
      // Valid taps form a rectangle (kh0..kh1) x (kw0..kw1): rows and
      // columns are independent, and dilation keeps the valid ones contiguous.
      const int64_t valid = std::max<int64_t>(0, kh1 - kh0) * std::max<int64_t>(0, kw1 - kw0);
      const int64_t iw0 = ow * s.sw - s.pl + kw0 * s.dw;
      for (int64_t g = 0; g < s.groups; ++g) {
        auto taps = [&](auto&& visit) {  // visit(x_words, w_offset, nwords) over the valid taps
          if (kw1 <= kw0) return;
          for (int64_t kh = kh0; kh < kh1; ++kh) {
            const int64_t ih = oh * s.sh - s.pt + kh * s.dh;
            const uint64_t* xrow = a.x + ((n * s.ih + ih) * s.iw) * wc + g * wcg;
            if (row_spans) {
              visit(xrow + iw0 * wc, (kh * s.kw + kw0) * wcg, (kw1 - kw0) * wcg);
            } else {
              for (int64_t kw = kw0; kw < kw1; ++kw)
                visit(xrow + (iw0 + (kw - kw0) * s.dw) * wc, (kh * s.kw + kw) * wcg, wcg);
            }
          }
        };
        int64_t o = g * ocg;
        const int64_t oend = (g + 1) * ocg;
        for (; o + 4 <= oend; o += 4) {
          uint64_t cnt[4] = {0, 0, 0, 0};
          const uint64_t* w0 = a.w + o * wstride;
          taps([&](const uint64_t* xp, int64_t woff, int64_t nw) {
            Pop::count4(xp, w0 + woff, w0 + wstride + woff, w0 + 2 * wstride + woff, w0 + 3 * wstride + woff, nw,
                        cnt);
          });
          for (int j = 0; j < 4; ++j)
            a.y[((n * s.oc + o + j) * s.oh + oh) * s.ow + ow] =
                binary_out(a.scale, a.bias, o + j, valid * icg - 2 * int64_t(cnt[j]));
        }
        for (; o < oend; ++o) {
          uint64_t cnt = 0;
          const uint64_t* w0 = a.w + o * wstride;
          taps([&](const uint64_t* xp, int64_t woff, int64_t nw) { cnt += Pop::count1(xp, w0 + woff, nw); });
          a.y[((n * s.oc + o) * s.oh + oh) * s.ow + ow] = binary_out(a.scale, a.bias, o, valid * icg - 2 * int64_t(cnt));
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
    for (; j < a.n; ++j)
      y[j] = binary_out(a.scale, a.bias, j, a.k - 2 * int64_t(Pop::count1(x, a.w + j * W, W)));
  }
}

}  // namespace
}  // namespace dlcore
