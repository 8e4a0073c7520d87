// int8 convolution as im2col + the int8 GEMM (gemm/gemm_s8.h), one registry
// entry per GEMM micro-kernel. Per image and group: the patch matrix
// P (OH*OW x ICg*KH*KW, u8; taps outside the image hold the zero point, so
// they add (zp - zp) * w = 0) times the group's weights (OCg x ICg*KH*KW, their
// natural OIHW layout) gives OH*OW x OCg int32, transposed into NCHW.
// Images run in parallel (one thread each, single-threaded GEMMs) when there
// are at least as many as threads; otherwise the GEMM splits each product.
#include "ops/quant/conv_u8s8.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/threads.h"
#include "gemm/gemm_s8.h"

namespace dlcore {
namespace {

void im2col_u8(const ConvShape& s, const uint8_t* x, int64_t g, uint8_t zp, uint8_t* p) {
  const int64_t icg = s.icg(), K = icg * s.kh * s.kw;
  for (int64_t oh = 0; oh < s.oh; ++oh)
    for (int64_t ow = 0; ow < s.ow; ++ow) {
      uint8_t* row = p + (oh * s.ow + ow) * K;
      for (int64_t c = 0; c < icg; ++c) {
        const uint8_t* plane = x + (g * icg + c) * s.ih * s.iw;
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          const int64_t ih = oh * s.sh - s.pt + kh * s.dh;
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            const int64_t iw = ow * s.sw - s.pl + kw * s.dw;
            const bool inside = ih >= 0 && ih < s.ih && iw >= 0 && iw < s.iw;
            *row++ = inside ? plane[ih * s.iw + iw] : zp;
          }
        }
      }
    }
}

// One image: every group's im2col + GEMM, the GEMM with `threads` threads.
void conv_image(const ConvS8Args& a, const GemmS8Kernel& kern, int64_t n, int threads, std::vector<uint8_t>& patches,
                std::vector<int32_t>& tmp) {
  const ConvShape& s = a.s;
  const int64_t M = s.oh * s.ow, K = s.icg() * s.kh * s.kw, ocg = s.ocg();
  patches.resize(size_t(M * K));
  tmp.resize(size_t(M * ocg));
  const uint8_t* x = a.x + n * s.ic * s.ih * s.iw;
  for (int64_t g = 0; g < s.groups; ++g) {
    im2col_u8(s, x, g, uint8_t(a.x_zero_point), patches.data());
    GemmS8Args ga;
    ga.m = M;
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
    ga.num_threads = threads;
    gemm_s8_with_kernel(ga, kern);
    int32_t* y = a.y + (n * s.oc + g * ocg) * M;
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t i = 0; i < M; ++i) y[o * M + i] = tmp[size_t(i * ocg + o)];
  }
}

void conv_u8s8(const ConvS8Args& a, const GemmS8Kernel& kern) {
  const int nt = get_num_threads();
  if (a.s.n >= nt && nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      std::vector<uint8_t> patches;
      std::vector<int32_t> tmp;
#pragma omp for schedule(dynamic, 1)
      for (int64_t n = 0; n < a.s.n; ++n) conv_image(a, kern, n, 1, patches, tmp);
    }
    return;
  }
  std::vector<uint8_t> patches;
  std::vector<int32_t> tmp;
  for (int64_t n = 0; n < a.s.n; ++n) conv_image(a, kern, n, 0, patches, tmp);
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

std::string maddubs_declines(const ConvS8Args& a) {
  return a.w_is_7bit ? "" : "weights outside [-64, 63]: vpmaddubsw's int16 pair sums could saturate";
}

}  // namespace

const Registry<ConvS8Args>& conv2d_u8s8_registry() {
  static const Registry<ConvS8Args> registry("conv2d_u8s8", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_u8s8_im2col_amx", Isa::amx, nullptr, run_amx},
    {"conv2d_u8s8_im2col_avx512vnni", Isa::avx512_vnni, nullptr, run_avx512vnni},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_u8s8_im2col_avxvnni", Isa::avx_vnni, nullptr, run_avxvnni},
    {"conv2d_u8s8_im2col_avx2_maddubs", Isa::avx2, maddubs_declines, run_avx2_maddubs},
    {"conv2d_u8s8_im2col_avx2_madd16", Isa::avx2, nullptr, run_avx2_madd16},
#endif
    {"conv2d_u8s8_im2col_ref", Isa::ref, nullptr, run_ref},
  });
  return registry;
}

}  // namespace dlcore
