// Convolution: the plain reference loops (the truth the fast paths are tested
// against) and the three registries, fastest first, reference last.
#include "ops/conv/conv.h"

#include <algorithm>
#include <limits>

#include "core/buffer.h"
#include "core/threads.h"

namespace dlcore {

std::string ConvShape::str() const {
  return cat("x (", n, ", ", ic, ", ", ih, ", ", iw, "), w (", oc, ", ", icg(), ", ", kh, ", ", kw,
             "), y (", n, ", ", oc, ", ", oh, ", ", ow, "), stride (", sh, ", ", sw, "), padding (", pt,
             ", ", pb, ", ", pl, ", ", pr, "), dilation (", dh, ", ", dw, "), groups ", groups);
}

namespace {
// A scratch buffer that remembers how much of it has been handed out, so the
// test hook below can poison exactly that.
struct TrackedScratch {
  ScratchBuffer buffer;
  size_t count = 0;
};
TrackedScratch* thread_scratch() {
  thread_local TrackedScratch slots[kConvScratchSlots];
  return slots;
}
}  // namespace

float* conv_scratch(int slot, size_t count) {
  TrackedScratch& s = thread_scratch()[slot];
  if (count > s.count) s.count = count;
  return s.buffer.get(count);
}

void conv_poison_scratch() {
  for (int slot = 0; slot < kConvScratchSlots; ++slot) {
    TrackedScratch& s = thread_scratch()[slot];
    if (s.count == 0) continue;
    float* p = s.buffer.get(s.count);
    std::fill(p, p + s.count, std::numeric_limits<float>::quiet_NaN());
  }
}

namespace {

// ---------------------------------------------------------------------------
// Reference: the definition, written as directly as possible. Each output
// element is owned by one loop iteration, so the OpenMP loops never race.
// ---------------------------------------------------------------------------

// The input coordinate a kernel tap reads: out * stride - pad + k * dilation.
inline int64_t input_coord(int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  return out * stride - pad + k * dilation;
}

void forward_ref(const ConvForwardArgs& a) {
  const ConvShape& s = a.s;
  const int64_t icg = s.icg(), ocg = s.ocg();
#pragma omp parallel for collapse(2) schedule(static) num_threads(get_num_threads())
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.oc; ++o) {
      const int64_t g = o / ocg;
      float* y = a.y + (n * s.oc + o) * s.oh * s.ow;
      for (int64_t oh = 0; oh < s.oh; ++oh)
        for (int64_t ow = 0; ow < s.ow; ++ow) {
          float sum = a.bias ? a.bias[o] : 0.0f;
          for (int64_t c = 0; c < icg; ++c)
            for (int64_t kh = 0; kh < s.kh; ++kh) {
              const int64_t ih = input_coord(oh, kh, s.sh, s.pt, s.dh);
              if (ih < 0 || ih >= s.ih) continue;
              for (int64_t kw = 0; kw < s.kw; ++kw) {
                const int64_t iw = input_coord(ow, kw, s.sw, s.pl, s.dw);
                if (iw < 0 || iw >= s.iw) continue;
                sum += a.x[((n * s.ic + g * icg + c) * s.ih + ih) * s.iw + iw] *
                       a.w[((o * icg + c) * s.kh + kh) * s.kw + kw];
              }
            }
          y[oh * s.ow + ow] = sum;
        }
    }
}

// dx[n, i, ih, iw] = sum over the (o, kh, kw, oh, ow) whose tap reads (ih, iw).
void backward_data_ref(const ConvBackwardDataArgs& a) {
  const ConvShape& s = a.s;
  const int64_t icg = s.icg(), ocg = s.ocg();
#pragma omp parallel for collapse(2) schedule(static) num_threads(get_num_threads())
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t i = 0; i < s.ic; ++i) {
      const int64_t g = i / icg, c = i % icg;
      float* dx = a.dx + (n * s.ic + i) * s.ih * s.iw;
      for (int64_t ih = 0; ih < s.ih; ++ih)
        for (int64_t iw = 0; iw < s.iw; ++iw) {
          float sum = 0.0f;
          for (int64_t kh = 0; kh < s.kh; ++kh) {
            const int64_t th = ih + s.pt - kh * s.dh;  // = oh * sh when the tap hits
            if (th < 0 || th % s.sh != 0 || th / s.sh >= s.oh) continue;
            const int64_t oh = th / s.sh;
            for (int64_t kw = 0; kw < s.kw; ++kw) {
              const int64_t tw = iw + s.pl - kw * s.dw;
              if (tw < 0 || tw % s.sw != 0 || tw / s.sw >= s.ow) continue;
              const int64_t ow = tw / s.sw;
              for (int64_t o = g * ocg; o < (g + 1) * ocg; ++o)
                sum += a.dy[((n * s.oc + o) * s.oh + oh) * s.ow + ow] *
                       a.w[((o * icg + c) * s.kh + kh) * s.kw + kw];
            }
          }
          dx[ih * s.iw + iw] = sum;
        }
    }
}

void backward_weights_ref(const ConvBackwardWeightsArgs& a) {
  const ConvShape& s = a.s;
  const int64_t icg = s.icg(), ocg = s.ocg();
#pragma omp parallel num_threads(get_num_threads())
  {
#pragma omp for collapse(2) schedule(static)
    for (int64_t o = 0; o < s.oc; ++o)
      for (int64_t c = 0; c < icg; ++c) {
        const int64_t g = o / ocg;
        for (int64_t kh = 0; kh < s.kh; ++kh)
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            float sum = 0.0f;
            for (int64_t n = 0; n < s.n; ++n)
              for (int64_t oh = 0; oh < s.oh; ++oh) {
                const int64_t ih = input_coord(oh, kh, s.sh, s.pt, s.dh);
                if (ih < 0 || ih >= s.ih) continue;
                for (int64_t ow = 0; ow < s.ow; ++ow) {
                  const int64_t iw = input_coord(ow, kw, s.sw, s.pl, s.dw);
                  if (iw < 0 || iw >= s.iw) continue;
                  sum += a.dy[((n * s.oc + o) * s.oh + oh) * s.ow + ow] *
                         a.x[((n * s.ic + g * icg + c) * s.ih + ih) * s.iw + iw];
                }
              }
            a.dw[((o * icg + c) * s.kh + kh) * s.kw + kw] = sum;
          }
      }
    if (a.db) {
#pragma omp for schedule(static)
      for (int64_t o = 0; o < s.oc; ++o) {
        float sum = 0.0f;
        for (int64_t n = 0; n < s.n; ++n) {
          const float* dy = a.dy + (n * s.oc + o) * s.oh * s.ow;
          for (int64_t p = 0; p < s.oh * s.ow; ++p) sum += dy[p];
        }
        a.db[o] = sum;
      }
    }
  }
}

}  // namespace

const Registry<ConvForwardArgs>& conv2d_forward_registry() {
  // Every implementation accepts every valid shape.
  static const Registry<ConvForwardArgs> registry("conv2d_forward", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_forward_avx512_direct", Isa::avx512, nullptr, conv2d_forward_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_forward_avx2_direct", Isa::avx2, nullptr, conv2d_forward_avx2},
#endif
    {"conv2d_forward_ref", Isa::ref, nullptr, forward_ref},
  });
  return registry;
}

const Registry<ConvBackwardDataArgs>& conv2d_backward_data_registry() {
  static const Registry<ConvBackwardDataArgs> registry("conv2d_backward_data", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_backward_data_avx512_direct", Isa::avx512, nullptr, conv2d_backward_data_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_data_avx2_direct", Isa::avx2, nullptr, conv2d_backward_data_avx2},
#endif
    {"conv2d_backward_data_ref", Isa::ref, nullptr, backward_data_ref},
  });
  return registry;
}

const Registry<ConvBackwardWeightsArgs>& conv2d_backward_weights_registry() {
  static const Registry<ConvBackwardWeightsArgs> registry("conv2d_backward_weights", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_backward_weights_avx512_direct", Isa::avx512, nullptr, conv2d_backward_weights_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_weights_avx2_direct", Isa::avx2, nullptr, conv2d_backward_weights_avx2},
#endif
    {"conv2d_backward_weights_ref", Isa::ref, nullptr, backward_weights_ref},
  });
  return registry;
}

}  // namespace dlcore
