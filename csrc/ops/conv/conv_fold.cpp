// Small images as GEMMs over the minibatch ("fold", issue 17): for outputs
// of at most kFoldMaxPixels pixels (ResNet-18's last stages on CIFAR-size
// input: 2x2 and 1x1) the direct kernels have one register tile of pixels
// per image and spend their time on reorders and edges; 512 -> 512 channels
// at 1x1 ran at 5-6 ms a pass against oneDNN's 1.4-1.9 (Zen 4, 2 threads,
// batch 64). Here every output pixel q is a GEMM whose columns are the
// images of a chunk, over only the taps that read inside the image at q:
//   forward           y_q (OCg x images)  = w_q (OCg x K_q) . cols_q (K_q x images)
//   backward data     dcols_q             = w_q^T . dy_q, added into dx
//   backward weights  dw (+)= dy_q . cols_q^T at q's taps
// K_q = ICg x q's live taps: at 1x1 with padding 1 only the centre tap of a
// 3x3 kernel, at 2x2 four of nine, so no GEMM multiplies padding.
//
// Baseline code: the gathers and scatters are data movement; the arithmetic
// runs in dlcore::gemm on the ISA the registry entry names. Every output
// element comes from one GEMM element, or sums its contributions in a fixed
// (chunk, pixel, tap) order, and chunks depend on the shape alone, so
// results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "core/epilogue.h"
#include "gemm/gemm.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace {

// Column floats per chunk of images (8 MiB).
constexpr int64_t kFoldChunkFloats = int64_t(2) << 20;

// One output pixel: the taps (kh * KW + kw) that read inside the input there
// and the input offsets (ih * IW + iw) they read.
struct Pixel {
  std::vector<int64_t> tap, off;
};

std::vector<Pixel> live_pixels(const ConvShape& s) {
  std::vector<Pixel> px(size_t(s.oh * s.ow));
  for (int64_t oh = 0; oh < s.oh; ++oh)
    for (int64_t ow = 0; ow < s.ow; ++ow) {
      Pixel& p = px[size_t(oh * s.ow + ow)];
      for (int64_t kh = 0; kh < s.kh; ++kh)
        for (int64_t kw = 0; kw < s.kw; ++kw) {
          const int64_t ih = oh * s.sh - s.pt + kh * s.dh, iw = ow * s.sw - s.pl + kw * s.dw;
          if (ih >= 0 && ih < s.ih && iw >= 0 && iw < s.iw) {
            p.tap.push_back(kh * s.kw + kw);
            p.off.push_back(ih * s.iw + iw);
          }
        }
    }
  return px;
}

struct Fold {
  const ConvShape& s;
  std::vector<Pixel> px;
  int64_t kmax = 0, chunk = 1;  // the largest K_q; images per chunk

  explicit Fold(const ConvShape& shape) : s(shape), px(live_pixels(shape)) {
    for (const Pixel& p : px) kmax = std::max<int64_t>(kmax, s.icg() * int64_t(p.tap.size()));
    chunk = std::max<int64_t>(1, std::min<int64_t>(s.n, kFoldChunkFloats / std::max<int64_t>(1, kmax)));
  }
  int64_t k_of(const Pixel& p) const { return s.icg() * int64_t(p.tap.size()); }

  // wq[o * K_q + c * taps + j] = w[g * OCg + o, c, tap j]
  void gather_weights(const float* w, int64_t g, const Pixel& p, float* wq) const {
    const int64_t ocg = s.ocg(), icg = s.icg(), kk = s.kh * s.kw, nt = int64_t(p.tap.size());
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t c = 0; c < icg; ++c) {
        const float* src = w + ((g * ocg + o) * icg + c) * kk;
        float* dst = wq + o * icg * nt + c * nt;
        for (int64_t j = 0; j < nt; ++j) dst[j] = src[p.tap[size_t(j)]];
      }
  }
  // cols[(c * taps + j) * nb + n] = x[n0 + n, g * ICg + c] at tap j's input offset
  void gather_columns(const float* x, int64_t g, const Pixel& p, int64_t n0, int64_t nb, float* cols) const {
    const int64_t icg = s.icg(), plane = s.ih * s.iw, nt = int64_t(p.tap.size());
    for (int64_t n = 0; n < nb; ++n)  // images outermost: each image's channels are read in order
      for (int64_t c = 0; c < icg; ++c) {
        const float* src = x + ((n0 + n) * s.ic + g * icg + c) * plane;
        float* dst = cols + c * nt * nb + n;
        for (int64_t j = 0; j < nt; ++j) dst[j * nb] = src[p.off[size_t(j)]];
      }
  }
  // t[o * nb + n] = a[n0 + n, g * OCg + o, pixel q] (dy at one pixel) and back (y).
  void gather_pixel(const float* a, int64_t g, int64_t q, int64_t n0, int64_t nb, float* t) const {
    const int64_t ocg = s.ocg(), P = s.oh * s.ow;
    for (int64_t n = 0; n < nb; ++n)
      for (int64_t o = 0; o < ocg; ++o) t[o * nb + n] = a[((n0 + n) * s.oc + g * ocg + o) * P + q];
  }
  void scatter_pixel(const float* t, int64_t g, int64_t q, int64_t n0, int64_t nb, float* a) const {
    const int64_t ocg = s.ocg(), P = s.oh * s.ow;
    for (int64_t n = 0; n < nb; ++n)
      for (int64_t o = 0; o < ocg; ++o) a[((n0 + n) * s.oc + g * ocg + o) * P + q] = t[o * nb + n];
  }
};

}  // namespace

bool use_fold(const ConvShape& s) { return s.oh * s.ow <= kFoldMaxPixels; }

void conv2d_forward_fold(const ConvForwardArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  if (s.n == 0) return;
  const Fold f(s);
  const int64_t ocg = s.ocg();
  float* wq = conv_scratch(0, size_t(ocg * f.kmax));
  float* cols = conv_scratch(1, size_t(f.kmax * f.chunk));
  float* yq = conv_scratch(2, size_t(ocg * f.chunk));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t q = 0; q < int64_t(f.px.size()); ++q) {
      const Pixel& p = f.px[size_t(q)];
      const int64_t k = f.k_of(p);
      if (k > 0) f.gather_weights(a.w, g, p, wq);
      for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk) {
        const int64_t nb = std::min(f.chunk, s.n - n0);
        if (k == 0) {  // a pixel that sees only padding: bias, then ReLU
          for (int64_t o = 0; o < ocg; ++o) {
            const float v = a.bias ? a.bias[g * ocg + o] : 0.0f;
            std::fill(yq + o * nb, yq + (o + 1) * nb, a.relu ? relu_scalar(v) : v);
          }
        } else {
          f.gather_columns(a.x, g, p, n0, nb, cols);
          GemmArgs ga;  // yq (OCg x nb) = wq (OCg x K_q) . cols (K_q x nb), bias and ReLU in the epilogue
          ga.m = ocg;
          ga.n = nb;
          ga.k = k;
          ga.a = wq;
          ga.lda = k;
          ga.b = cols;
          ga.ldb = nb;
          ga.c = yq;
          ga.ldc = nb;
          ga.bias_row = a.bias ? a.bias + g * ocg : nullptr;
          ga.relu = a.relu;
          gemm(ga, backend);
        }
        f.scatter_pixel(yq, g, q, n0, nb, a.y);
      }
    }
}

void conv2d_backward_data_fold(const ConvBackwardDataArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  std::fill(a.dx, a.dx + s.n * s.ic * s.ih * s.iw, 0.0f);
  if (s.n == 0) return;
  const Fold f(s);
  const int64_t ocg = s.ocg(), icg = s.icg(), plane = s.ih * s.iw;
  float* wq = conv_scratch(0, size_t(ocg * f.kmax));
  float* dcols = conv_scratch(1, size_t(f.kmax * f.chunk));
  float* dyq = conv_scratch(2, size_t(ocg * f.chunk));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t q = 0; q < int64_t(f.px.size()); ++q) {
      const Pixel& p = f.px[size_t(q)];
      const int64_t k = f.k_of(p), nt = int64_t(p.tap.size());
      if (k == 0) continue;
      f.gather_weights(a.w, g, p, wq);
      for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk) {
        const int64_t nb = std::min(f.chunk, s.n - n0);
        f.gather_pixel(a.dy, g, q, n0, nb, dyq);
        GemmArgs ga;  // dcols (K_q x nb) = wq^T (K_q x OCg) . dyq (OCg x nb)
        ga.m = k;
        ga.n = nb;
        ga.k = ocg;
        ga.a = wq;
        ga.lda = k;
        ga.trans_a = true;
        ga.b = dyq;
        ga.ldb = nb;
        ga.c = dcols;
        ga.ldc = nb;
        gemm(ga, backend);
        for (int64_t n = 0; n < nb; ++n)
          for (int64_t c = 0; c < icg; ++c) {
            float* dst = a.dx + ((n0 + n) * s.ic + g * icg + c) * plane;
            const float* src = dcols + c * nt * nb + n;
            for (int64_t j = 0; j < nt; ++j) dst[p.off[size_t(j)]] += src[j * nb];
          }
      }
    }
}

void conv2d_backward_weights_fold(const ConvBackwardWeightsArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t ocg = s.ocg(), icg = s.icg(), kk = s.kh * s.kw;
  std::fill(a.dw, a.dw + s.oc * icg * kk, 0.0f);  // taps no pixel reads stay 0
  if (a.db) bias_gradient_ref(a.dy, a.db, s);
  if (s.n == 0) return;
  const Fold f(s);
  float* dwq = conv_scratch(0, size_t(ocg * f.kmax));
  float* cols = conv_scratch(1, size_t(f.kmax * f.chunk));
  float* dyq = conv_scratch(2, size_t(ocg * f.chunk));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk)
      for (int64_t q = 0; q < int64_t(f.px.size()); ++q) {
        const Pixel& p = f.px[size_t(q)];
        const int64_t k = f.k_of(p), nt = int64_t(p.tap.size()), nb = std::min(f.chunk, s.n - n0);
        if (k == 0) continue;
        f.gather_columns(a.x, g, p, n0, nb, cols);
        f.gather_pixel(a.dy, g, q, n0, nb, dyq);
        GemmArgs ga;  // dwq (OCg x K_q) = dyq (OCg x nb) . cols^T (nb x K_q)
        ga.m = ocg;
        ga.n = k;
        ga.k = nb;
        ga.a = dyq;
        ga.lda = nb;
        ga.b = cols;
        ga.ldb = nb;
        ga.trans_b = true;
        ga.c = dwq;
        ga.ldc = k;
        gemm(ga, backend);
        for (int64_t o = 0; o < ocg; ++o)
          for (int64_t c = 0; c < icg; ++c) {
            float* dst = a.dw + ((g * ocg + o) * icg + c) * kk;
            const float* src = dwq + o * k + c * nt;
            for (int64_t j = 0; j < nt; ++j) dst[p.tap[size_t(j)]] += src[j];
          }
      }
}

}  // namespace dlcore
