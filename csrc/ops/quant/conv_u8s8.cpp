// int8 convolution as im2col + the int8 GEMM (gemm/gemm_s8.h), one registry
// entry per GEMM micro-kernel. Per image and group: the patch matrix
// P (OH*OW x ICg*KH*KW, u8; taps outside the image hold the zero point, so
// they add (zp - zp) * w = 0) times the group's weights (OCg x ICg*KH*KW, their
// natural OIHW layout) gives OH*OW x OCg int32, transposed into NCHW.
#include "ops/quant/conv_u8s8.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "core/threads.h"
#include "gemm/gemm_s8.h"

namespace dlcore {
namespace {

// The patch matrix of one image and group. The group's planes are first
// copied into a scratch with the padding filled by the zero point (and 8
// bytes of slack), so every window is interior: one copy per kernel row, no
// bounds checks, and rows of up to 8 taps as one 8-byte move (LeNet's 5x5
// windows over one channel made the old per-tap bounds checks the cost of
// the whole int8 conv). The 8-byte moves spill into the next row, which is
// written after; never past the image's last row.
void im2col_u8(const ConvShape& s, const uint8_t* x, int64_t g, uint8_t zp, uint8_t* p) {
  const int64_t icg = s.icg(), K = icg * s.kh * s.kw;
  const int64_t ph = s.ih + s.pt + s.pb, pw = s.iw + s.pl + s.pr;
  thread_local std::vector<uint8_t> padded;
  padded.assign(size_t(icg * ph * pw + 8), zp);
  for (int64_t c = 0; c < icg; ++c)
    for (int64_t h = 0; h < s.ih; ++h)
      std::memcpy(padded.data() + (c * ph + h + s.pt) * pw + s.pl, x + ((g * icg + c) * s.ih + h) * s.iw, size_t(s.iw));
  const bool short_rows = s.dw == 1 && s.kw <= 8;
  for (int64_t oh = 0; oh < s.oh; ++oh)
    for (int64_t ow = 0; ow < s.ow; ++ow) {
      uint8_t* row = p + (oh * s.ow + ow) * K;
      const bool last_pixel = oh == s.oh - 1 && ow == s.ow - 1;  // its last row may not spill: another
                                                                 // thread may own the next image's rows
      const int64_t ih0 = oh * s.sh, iw0 = ow * s.sw;            // in padded coordinates
      for (int64_t c = 0; c < icg; ++c) {
        const uint8_t* plane = padded.data() + c * ph * pw + iw0;
        for (int64_t kh = 0; kh < s.kh; ++kh, row += s.kw) {
          const uint8_t* src = plane + (ih0 + kh * s.dh) * pw;
          if (short_rows && !(last_pixel && c == icg - 1 &&
                              kh == s.kh - 1)) {  // 8 bytes; the next row (or the slack) takes the excess
            uint64_t v;
            std::memcpy(&v, src, 8);
            std::memcpy(row, &v, 8);
          } else if (s.dw == 1) {
            std::memcpy(row, src, size_t(s.kw));
          } else {
            for (int64_t kw = 0; kw < s.kw; ++kw) row[kw] = src[kw * s.dw];
          }
        }
      }
    }
}

// Images are taken in chunks (patch matrix up to kChunkBytes): per group one
// im2col of the chunk (images in parallel) and ONE GEMM with M = images x
// OH x OW, so layers with few channels or small planes (LeNet: 6 outputs,
// 25 taps) still give the GEMM a tall product to split over threads.
constexpr int64_t kChunkBytes = int64_t(32) << 20;

void conv_u8s8(const ConvS8Args& a, const GemmS8Kernel& kern) {
  const ConvShape& s = a.s;
  const int64_t M1 = s.oh * s.ow, K = s.icg() * s.kh * s.kw, ocg = s.ocg();
  const int64_t per_image = M1 * K;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(s.n, kChunkBytes / std::max<int64_t>(per_image, 1)));
  std::vector<uint8_t> patches(size_t(chunk * per_image));
  std::vector<int32_t> tmp(size_t(chunk * M1 * ocg));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min<int64_t>(chunk, s.n - n0);
    for (int64_t g = 0; g < s.groups; ++g) {
      parallel_units(nb, nb * per_image, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          im2col_u8(s, a.x + (n0 + b) * s.ic * s.ih * s.iw, g, uint8_t(a.x_zero_point), patches.data() + b * per_image);
      });
      GemmS8Args ga;
      ga.m = nb * M1;
      ga.n = ocg;
      ga.k = K;
      ga.a = patches.data();
      ga.lda = K;
      ga.b = a.w + g * ocg * K;
      ga.ldb = K;
      ga.c = tmp.data();
      ga.ldc = ocg;
      ga.a_zero_point = a.x_zero_point;
      ga.b_is_7bit = a.w_is_7bit;
      gemm_s8_with_kernel(ga, kern);
      parallel_units(nb, nb * M1 * ocg * 8, [&](int64_t b0, int64_t b1) {  // (pixels, channels) -> NCHW
        for (int64_t b = b0; b < b1; ++b) {
          int32_t* y = a.y + ((n0 + b) * s.oc + g * ocg) * M1;
          const int32_t* t = tmp.data() + b * M1 * ocg;
          for (int64_t o = 0; o < ocg; ++o)
            for (int64_t i = 0; i < M1; ++i) y[o * M1 + i] = t[i * ocg + o];
        }
      });
    }
  }
}

void run_ref(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_ref()); }
#ifdef DLCORE_HAVE_AVX2
void run_avx2_maddubs(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_avx2_maddubs()); }
void run_avx2_madd16(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_avx2_madd16()); }
void run_avxvnni(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_avxvnni()); }
#endif
#ifdef DLCORE_HAVE_AVX512
void run_amx(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_amx()); }
void run_avx512vnni(const ConvS8Args& a) { conv_u8s8(a, gemm_s8_kernel_avx512vnni()); }
#endif

// Output channels per group up to which the direct kernel beats im2col + the
// AVX2 GEMM. Measured (2 threads, load ~8, interleaved, 7-bit weights), direct
// vs im2col: LeNet-5 conv1 (1->6, 28x28, batch 64) 1.4 vs 13.4 ms, conv2
// (6->16, 14x14) 2.2 vs 5.2 ms; Caffe LeNet conv1 (1->20) 3.5 vs 13.0 ms;
// 16->32 3x3 28x28 batch 8 3.0 vs 7.1 ms; but Caffe conv2 (20->50, 12x12)
// 14.3 vs 9.7 ms. Not measured on VNNI/AMX CPUs (their im2col entries
// come first there).
constexpr int64_t kDirectMaxOcg = 32;

std::string direct_declines(const ConvS8Args& a) {
  if (a.s.sw != 1) return cat("stride along the width is ", a.s.sw, ", not 1 (it loads 16 adjacent columns)");
  if (a.s.ocg() > kDirectMaxOcg)
    return cat(a.s.ocg(), " output channels per group (> ", kDirectMaxOcg, "): the im2col GEMM's tiles are full");
  return "";
}

std::string maddubs_declines(const ConvS8Args& a) {
  return a.w_is_7bit ? "" : "weights outside [-64, 63]: vpmaddubsw's int16 pair sums could saturate";
}

}  // namespace

const Registry<ConvS8Args>& conv2d_u8s8_registry() {
  static const Registry<ConvS8Args> registry(
      "conv2d_u8s8", {
#ifdef DLCORE_HAVE_AVX512
                         {"conv2d_u8s8_im2col_amx", Isa::amx, nullptr, run_amx},
                         {"conv2d_u8s8_im2col_avx512vnni", Isa::avx512_vnni, nullptr, run_avx512vnni},
#endif
#ifdef DLCORE_HAVE_AVX2
                         {"conv2d_u8s8_direct_avx2", Isa::avx2, direct_declines, conv2d_u8s8_direct_avx2},
                         {"conv2d_u8s8_im2col_avxvnni", Isa::avx_vnni, nullptr, run_avxvnni},
                         {"conv2d_u8s8_im2col_avx2_maddubs", Isa::avx2, maddubs_declines, run_avx2_maddubs},
                         {"conv2d_u8s8_im2col_avx2_madd16", Isa::avx2, nullptr, run_avx2_madd16},
#endif
                         {"conv2d_u8s8_im2col_ref", Isa::ref, nullptr, run_ref},
                     });
  return registry;
}

}  // namespace dlcore
