// Small images as GEMMs over the whole minibatch ("fold", issue 17): for
// outputs of at most kFoldMaxPixels pixels (ResNet-18's last stages on
// CIFAR-size input: 4x4, 2x2, 1x1) the direct kernels have one or two
// register tiles of pixels per image and spend their time on reorders and
// edges; 512 -> 512 channels at 1x1 ran at 5-6 ms a pass against oneDNN's
// 1.4-1.9 (Zen 4, 2 threads, batch 64). Here the images of a chunk become
// the columns of one GEMM per group:
//   forward           y_g (OCg x NP)  = w_g (OCg x K) . cols (K x NP)
//   backward data     dcols (K x NP)  = w_g^T . dy_g, then col2im
//   backward weights  dw_g (OCg x K) += dy_g . cols^T
// with NP = images x OH*OW and K = ICg x the live taps: a tap that reads
// only padding for every output pixel (8 of 9 at 1x1 with padding 1) is
// dropped from K, its weight gradient is exactly 0.
//
// Baseline code: im2col, col2im and the layout copies are data movement;
// the arithmetic runs in dlcore::gemm on the ISA the registry entry names.
// Every output element is produced by one GEMM element or one col2im sum in
// a fixed order, and chunks depend on the shape alone, so results do not
// depend on the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/pool.h"
#include "core/threads.h"
#include "gemm/gemm.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace {

// Column floats per chunk of images (8 MiB: ResNet-18's 2x2 layer at batch
// 64 is 2.4 MiB, one chunk).
constexpr int64_t kFoldChunkFloats = int64_t(2) << 20;

// Kernel offsets along one axis that read inside the input for at least one
// output position.
std::vector<int64_t> live_taps(int64_t k, int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t dil) {
  std::vector<int64_t> taps;
  for (int64_t t = 0; t < k; ++t)
    for (int64_t o = 0; o < out; ++o) {
      const int64_t i = o * stride - pad + t * dil;
      if (i >= 0 && i < in) {
        taps.push_back(t);
        break;
      }
    }
  return taps;
}

struct Fold {
  const ConvShape& s;
  std::vector<int64_t> th, tw;  // live kernel rows / columns
  int64_t taps, k, p, chunk;    // live taps, GEMM k (ICg x taps), pixels per image, images per chunk

  explicit Fold(const ConvShape& shape)
      : s(shape),
        th(live_taps(s.kh, s.ih, s.oh, s.sh, s.pt, s.dh)),
        tw(live_taps(s.kw, s.iw, s.ow, s.sw, s.pl, s.dw)),
        taps(int64_t(th.size() * tw.size())),
        k(s.icg() * taps),
        p(s.oh * s.ow),
        chunk(std::max<int64_t>(1, std::min<int64_t>(s.n, kFoldChunkFloats / std::max<int64_t>(1, k * p)))) {}

  // w_g with the dead taps left out: wl[o * k + c * taps + t].
  void gather_weights(const float* w, int64_t g, float* wl) const {
    const int64_t ocg = s.ocg(), icg = s.icg();
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t c = 0; c < icg; ++c) {
        const float* src = w + ((g * ocg + o) * icg + c) * s.kh * s.kw;
        float* dst = wl + o * k + c * taps;
        for (size_t a = 0; a < th.size(); ++a)
          for (size_t b = 0; b < tw.size(); ++b) *dst++ = src[th[a] * s.kw + tw[b]];
      }
  }

  // cols[(c * taps + t) * nb*P + n * P + oh * OW + ow] for images [n0, n0 + nb) of group g.
  void im2col(const float* x, int64_t g, int64_t n0, int64_t nb, float* cols) const {
    const int64_t np = nb * p, icg = s.icg();
    const std::vector<int64_t> offsets = tap_offsets();
    parallel_tiles(k, work_threads(k * np), [&](int64_t r) {
      const int64_t c = r / taps, t = r % taps;
      const int64_t* off = offsets.data() + t * p;
      float* dst = cols + r * np;
      for (int64_t n = 0; n < nb; ++n) {
        const float* plane = x + ((n0 + n) * s.ic + g * icg + c) * s.ih * s.iw;
        for (int64_t q = 0; q < p; ++q) *dst++ = off[q] >= 0 ? plane[off[q]] : 0.0f;
      }
    });
  }

  // off[t * P + q]: the input offset (ih * IW + iw) that live tap t reads for
  // output pixel q, or -1 where it reads padding. Computed once a call, so
  // im2col and col2im are gathers and scatters without index arithmetic.
  std::vector<int64_t> tap_offsets() const {
    std::vector<int64_t> off(size_t(taps * p));
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t dh = th[t / tw.size()] * s.dh - s.pt, dw = tw[t % tw.size()] * s.dw - s.pl;
      for (int64_t oh = 0; oh < s.oh; ++oh)
        for (int64_t ow = 0; ow < s.ow; ++ow) {
          const int64_t ih = oh * s.sh + dh, iw = ow * s.sw + dw;
          off[t * p + oh * s.ow + ow] = ih >= 0 && ih < s.ih && iw >= 0 && iw < s.iw ? ih * s.iw + iw : -1;
        }
    }
    return off;
  }

  // t[o * nb*P + n * P + q] = a[(n0 + n) * C + g * OCg + o][q]  (NCHW planes -> one matrix), and back.
  void planes_to_matrix(const float* a, int64_t g, int64_t n0, int64_t nb, float* t) const {
    const int64_t ocg = s.ocg();
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t n = 0; n < nb; ++n)
        std::memcpy(t + (o * nb + n) * p, a + ((n0 + n) * s.oc + g * ocg + o) * p, sizeof(float) * p);
  }
  void matrix_to_planes(const float* t, int64_t g, int64_t n0, int64_t nb, float* a) const {
    const int64_t ocg = s.ocg();
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t n = 0; n < nb; ++n)
        std::memcpy(a + ((n0 + n) * s.oc + g * ocg + o) * p, t + (o * nb + n) * p, sizeof(float) * p);
  }

  // dx planes of group g, images [n0, n0 + nb), from dcols (im2col's layout):
  // each element sums its taps in order, starting from zero.
  void col2im(const float* dcols, int64_t g, int64_t n0, int64_t nb, float* dx) const {
    const int64_t np = nb * p, icg = s.icg(), plane = s.ih * s.iw;
    const std::vector<int64_t> offsets = tap_offsets();
    parallel_tiles(nb * icg, work_threads(nb * icg * (plane + taps * p)), [&](int64_t item) {
      const int64_t n = item / icg, c = item % icg;
      float* out = dx + ((n0 + n) * s.ic + g * icg + c) * plane;
      std::fill(out, out + plane, 0.0f);
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t* off = offsets.data() + t * p;
        const float* src = dcols + (c * taps + t) * np + n * p;
        for (int64_t q = 0; q < p; ++q)
          if (off[q] >= 0) out[off[q]] += src[q];
      }
    });
  }

  // Threads for a copy touching `floats` floats: about 64 Ki each.
  static int work_threads(int64_t floats) {
    return int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), floats >> 16)));
  }
};

}  // namespace

bool use_fold(const ConvShape& s) { return s.oh * s.ow <= kFoldMaxPixels; }

void conv2d_forward_fold(const ConvForwardArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  if (s.n == 0) return;
  const Fold f(s);
  const int64_t ocg = s.ocg();
  float* wl = conv_scratch(0, size_t(ocg * f.k));
  float* cols = conv_scratch(1, size_t(f.k * f.chunk * f.p));
  float* yt = conv_scratch(2, size_t(ocg * f.chunk * f.p));
  for (int64_t g = 0; g < s.groups; ++g) {
    f.gather_weights(a.w, g, wl);
    for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk) {
      const int64_t nb = std::min(f.chunk, s.n - n0), np = nb * f.p;
      f.im2col(a.x, g, n0, nb, cols);
      GemmArgs ga;  // yt (OCg x NP) = wl (OCg x K) . cols (K x NP), bias and ReLU in the epilogue
      ga.m = ocg;
      ga.n = np;
      ga.k = f.k;
      ga.a = wl;
      ga.lda = f.k;
      ga.b = cols;
      ga.ldb = np;
      ga.c = yt;
      ga.ldc = np;
      ga.bias_row = a.bias ? a.bias + g * ocg : nullptr;
      ga.relu = a.relu;
      gemm(ga, backend);
      f.matrix_to_planes(yt, g, n0, nb, a.y);
    }
  }
}

void conv2d_backward_data_fold(const ConvBackwardDataArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  if (s.n == 0) return;
  const Fold f(s);
  const int64_t ocg = s.ocg();
  float* wl = conv_scratch(0, size_t(ocg * f.k));
  float* dcols = conv_scratch(1, size_t(f.k * f.chunk * f.p));
  float* dyt = conv_scratch(2, size_t(ocg * f.chunk * f.p));
  for (int64_t g = 0; g < s.groups; ++g) {
    f.gather_weights(a.w, g, wl);
    for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk) {
      const int64_t nb = std::min(f.chunk, s.n - n0), np = nb * f.p;
      f.planes_to_matrix(a.dy, g, n0, nb, dyt);
      GemmArgs ga;  // dcols (K x NP) = wl^T (K x OCg) . dyt (OCg x NP)
      ga.m = f.k;
      ga.n = np;
      ga.k = ocg;
      ga.a = wl;
      ga.lda = f.k;
      ga.trans_a = true;
      ga.b = dyt;
      ga.ldb = np;
      ga.c = dcols;
      ga.ldc = np;
      gemm(ga, backend);
      f.col2im(dcols, g, n0, nb, a.dx);
    }
  }
}

void conv2d_backward_weights_fold(const ConvBackwardWeightsArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t ocg = s.ocg(), icg = s.icg(), kk = s.kh * s.kw;
  std::fill(a.dw, a.dw + s.oc * icg * kk, 0.0f);  // dead taps stay 0
  if (a.db) bias_gradient_ref(a.dy, a.db, s);
  if (s.n == 0) return;
  const Fold f(s);
  float* dwl = conv_scratch(0, size_t(ocg * f.k));
  float* cols = conv_scratch(1, size_t(f.k * f.chunk * f.p));
  float* dyt = conv_scratch(2, size_t(ocg * f.chunk * f.p));
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t n0 = 0; n0 < s.n; n0 += f.chunk) {
      const int64_t nb = std::min(f.chunk, s.n - n0), np = nb * f.p;
      f.im2col(a.x, g, n0, nb, cols);
      f.planes_to_matrix(a.dy, g, n0, nb, dyt);
      GemmArgs ga;  // dwl (OCg x K) (+)= dyt (OCg x NP) . cols^T (NP x K), chunks added in order
      ga.m = ocg;
      ga.n = f.k;
      ga.k = np;
      ga.a = dyt;
      ga.lda = np;
      ga.b = cols;
      ga.ldb = np;
      ga.trans_b = true;
      ga.c = dwl;
      ga.ldc = f.k;
      ga.beta = n0 == 0 ? 0.0f : 1.0f;
      gemm(ga, backend);
    }
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t c = 0; c < icg; ++c) {
        float* dst = a.dw + ((g * ocg + o) * icg + c) * kk;
        const float* src = dwl + o * f.k + c * f.taps;
        for (size_t i = 0; i < f.th.size(); ++i)
          for (size_t j = 0; j < f.tw.size(); ++j) dst[f.th[i] * s.kw + f.tw[j]] = *src++;
      }
  }
}

}  // namespace dlcore
