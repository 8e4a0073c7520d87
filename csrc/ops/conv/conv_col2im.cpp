// Backward data as GEMM + col2im (issue 17), for narrow inputs: ICg <= 4
// input channels per group, a network's first layer (RGB or grey).
//
// Per image and group the column gradients are one GEMM on NCHW,
//   dcols (ICg*KH*KW x OH*OW) = w_g^T (ICg*KH*KW x OCg) . dy_g (OCg x OH*OW),
// and col2im adds each column row into dx at its tap's offset. The direct
// kernels (conv_kernels.h) run these layers with one channel block of W
// lanes of which only ICg are live (3 of 8 on AVX2) and with one-block
// register tiles: ResNet-50 conv1 backward-data (3 <- 64, 7x7, stride 2,
// 224x224, 2 images) took 68.6 ms against PyTorch's 52.5.
//
// Baseline code: col2im is data movement; the arithmetic runs in dlcore::gemm
// on the ISA the registry entry names. The bf16 convolution (conv_bf16.cpp)
// uses the same col2im.
#include <algorithm>

#include "core/pool.h"
#include "core/threads.h"
#include "gemm/gemm.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Column floats per chunk of images: one batched GEMM per group serves a
// chunk (no fork/join per image for small images), and the columns of a
// chunk stay within a few MiB instead of N times the input.
constexpr int64_t kChunkFloats = int64_t(2) << 20;  // 8 MiB

// col2im work items per thread: a thread the OS deschedules on a busy
// machine then delays a small share of the call (core/pool.h).
constexpr int64_t kItemsPerThread = 8;

// Rows [r0, r1) of one dx plane from the KH*KW column rows of its channel
// (dcol[(kh*KW + kw)*P + oh*OW + ow], P = OH*OW). Every element sums its
// taps in (kh, kw) order starting from zero, whatever the rows of an item:
// results do not depend on the thread count.
void col2im_rows(const ConvShape& s, const float* dcol, float* plane, int64_t r0, int64_t r1) {
  const int64_t P = s.oh * s.ow;
  for (int64_t ih = r0; ih < r1; ++ih) {
    float* row = plane + ih * s.iw;
    std::fill(row, row + s.iw, 0.0f);
    for (int64_t kh = 0; kh < s.kh; ++kh) {
      const int64_t th = ih + s.pt - kh * s.dh;  // = oh * sh when this tap reads row ih
      if (th < 0 || th % s.sh != 0 || th / s.sh >= s.oh) continue;
      const float* src_row = dcol + kh * s.kw * P + (th / s.sh) * s.ow;
      for (int64_t kw = 0; kw < s.kw; ++kw) {
        const int64_t off = kw * s.dw - s.pl;  // iw = ow * sw + off
        if (off > s.iw - 1) break;             // later taps start further right
        const int64_t ow0 = off >= 0 ? 0 : ceil_div(-off, s.sw);
        const int64_t ow1 = std::min(s.ow, (s.iw - 1 - off) / s.sw + 1);
        const float* src = src_row + kw * P;
        if (s.sw == 1) {
          float* dst = row + off;
          for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] += src[ow];
        } else {
          for (int64_t ow = ow0; ow < ow1; ++ow) row[ow * s.sw + off] += src[ow];
        }
      }
    }
  }
}

}  // namespace

void conv_col2im(const ConvShape& s, const float* dcols, int64_t nb, float* dx) {
  const int64_t K = s.icg() * s.kh * s.kw, P = s.oh * s.ow, planes = nb * s.ic;
  if (planes == 0) return;
  // Threads by work (about 32 Ki touched floats each), then enough row
  // chunks per plane for kItemsPerThread items per thread.
  const int64_t work = planes * (s.ih * s.iw + s.kh * s.kw * P);
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), work >> 15)));
  const int64_t chunks = std::min(s.ih, std::max<int64_t>(1, ceil_div(kItemsPerThread * nt, planes)));
  const int64_t rows = ceil_div(s.ih, chunks);
  parallel_tiles(planes * chunks, nt, [&](int64_t item) {
    const int64_t t = item / chunks, chunk = item % chunks;
    const int64_t n = t / s.ic, ch = t % s.ic, g = ch / s.icg(), c = ch % s.icg();
    const float* dcol = dcols + (n * s.groups + g) * K * P + c * s.kh * s.kw * P;
    const int64_t r0 = chunk * rows, r1 = std::min(s.ih, r0 + rows);
    if (r0 < r1) col2im_rows(s, dcol, dx + (n * s.ic + ch) * s.ih * s.iw, r0, r1);
  });
}

void conv2d_backward_data_col2im(const ConvBackwardDataArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  if (s.n == 0) return;
  const int64_t K = s.icg() * s.kh * s.kw, P = s.oh * s.ow, ocg = s.ocg();
  const int64_t image = s.groups * K * P;  // column floats of one image
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(s.n, kChunkFloats / std::max<int64_t>(1, image)));
  float* dcols = conv_scratch(0, size_t(chunk * image));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    for (int64_t g = 0; g < s.groups; ++g) {
      GemmArgs ga;  // dcols(n, g) (K x P) = w_g^T (K x OCg) . dy[n, g] (OCg x P)
      ga.m = K;
      ga.n = P;
      ga.k = ocg;
      ga.a = a.w + g * ocg * K;
      ga.lda = K;
      ga.trans_a = true;
      ga.b = a.dy + (n0 * s.oc + g * ocg) * P;
      ga.ldb = P;
      ga.stride_b = s.oc * P;
      ga.c = dcols + g * K * P;
      ga.ldc = P;
      ga.stride_c = image;
      ga.batch = nb;
      gemm(ga, backend);
    }
    conv_col2im(s, dcols, nb, a.dx + n0 * s.ic * s.ih * s.iw);
  }
}

}  // namespace dlcore
