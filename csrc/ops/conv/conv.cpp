// Convolution: the plain reference loops (the truth the fast paths are tested
// against) and the three registries, fastest first, reference last.
#include "ops/conv/conv.h"

#include <algorithm>
#include <limits>

#include "core/buffer.h"
#include "core/threads.h"
#include "gemm/gemm.h"

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

// db[o] = sum over n, oh, ow of dy[n, o, oh, ow].
void bias_gradient_ref(const float* dy, float* db, const ConvShape& s) {
#pragma omp parallel for schedule(static) num_threads(get_num_threads())
  for (int64_t o = 0; o < s.oc; ++o) {
    float sum = 0.0f;
    for (int64_t n = 0; n < s.n; ++n) {
      const float* p = dy + (n * s.oc + o) * s.oh * s.ow;
      for (int64_t i = 0; i < s.oh * s.ow; ++i) sum += p[i];
    }
    db[o] = sum;
  }
}

void backward_weights_ref(const ConvBackwardWeightsArgs& a) {
  const ConvShape& s = a.s;
  const int64_t icg = s.icg(), ocg = s.ocg();
#pragma omp parallel for collapse(2) schedule(static) num_threads(get_num_threads())
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
  if (a.db) bias_gradient_ref(a.dy, a.db, s);
}

// ---------------------------------------------------------------------------
// Pointwise (1x1, unpadded) convolutions are plain GEMMs on NCHW: per image
// and group, y (OCg x OH*OW) = w (OCg x ICg) . x (ICg x OH*OW). They reuse
// dlcore::gemm (BLIS packing and micro-kernels) on the same ISA instead of
// the blocked layouts, so no reorder is paid. A strided 1x1 first gathers the
// pixels it reads (N x C x OH x OW, a quarter of x at stride 2).
// ---------------------------------------------------------------------------

bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.pt == 0 && s.pb == 0 && s.pl == 0 && s.pr == 0;
}

bool is_strided(const ConvShape& s) { return s.sh != 1 || s.sw != 1; }

// x[n, c, oh*sh, ow*sw] -> dst (N, C, OH, OW).
void gather_strided(const float* x, float* dst, const ConvShape& s) {
#pragma omp parallel for schedule(static) num_threads(get_num_threads())
  for (int64_t nc = 0; nc < s.n * s.ic; ++nc)
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const float* in = x + (nc * s.ih + oh * s.sh) * s.iw;
      float* out = dst + (nc * s.oh + oh) * s.ow;
      for (int64_t ow = 0; ow < s.ow; ++ow) out[ow] = in[ow * s.sw];
    }
}

// dense (N, C, OH, OW) -> dx[n, c, oh*sh, ow*sw], zeros elsewhere.
void scatter_strided(const float* dense, float* dx, const ConvShape& s) {
#pragma omp parallel for schedule(static) num_threads(get_num_threads())
  for (int64_t nc = 0; nc < s.n * s.ic; ++nc) {
    float* plane = dx + nc * s.ih * s.iw;
    std::fill(plane, plane + s.ih * s.iw, 0.0f);
    for (int64_t oh = 0; oh < s.oh; ++oh)
      for (int64_t ow = 0; ow < s.ow; ++ow)
        plane[oh * s.sh * s.iw + ow * s.sw] = dense[(nc * s.oh + oh) * s.ow + ow];
  }
}

// The input pixels a pointwise convolution reads, as (N, C, OH, OW).
const float* pointwise_input(const float* x, const ConvShape& s) {
  if (!is_strided(s)) return x;
  float* dense = conv_scratch(0, size_t(s.n * s.ic * s.oh * s.ow));
  gather_strided(x, dense, s);
  return dense;
}

// One GEMM per group, batched over the images.
void pointwise_gemm(const ConvShape& s, GemmArgs g, int64_t a_group, int64_t b_group, int64_t c_group,
                    const char* backend) {
  const float* a = g.a;
  const float* b = g.b;
  float* c = g.c;
  for (int64_t grp = 0; grp < s.groups; ++grp) {
    g.a = a + grp * a_group;
    g.b = b + grp * b_group;
    g.c = c + grp * c_group;
    gemm(g, backend);
  }
}

void forward_pointwise(const ConvForwardArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t hw = s.oh * s.ow, icg = s.icg(), ocg = s.ocg();
  if (a.bias) {
#pragma omp parallel for schedule(static) num_threads(get_num_threads())
    for (int64_t no = 0; no < s.n * s.oc; ++no)
      std::fill(a.y + no * hw, a.y + (no + 1) * hw, a.bias[no % s.oc]);
  }
  GemmArgs g;
  g.m = ocg;
  g.n = hw;
  g.k = icg;
  g.a = a.w;
  g.lda = icg;
  g.b = pointwise_input(a.x, s);
  g.ldb = hw;
  g.c = a.y;
  g.ldc = hw;
  g.beta = a.bias ? 1.0f : 0.0f;
  g.batch = s.n;
  g.stride_b = s.ic * hw;
  g.stride_c = s.oc * hw;
  pointwise_gemm(s, g, ocg * icg, icg * hw, ocg * hw, backend);
}

void backward_data_pointwise(const ConvBackwardDataArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t hw = s.oh * s.ow, icg = s.icg(), ocg = s.ocg();
  float* dense = is_strided(s) ? conv_scratch(0, size_t(s.n * s.ic * hw)) : a.dx;
  GemmArgs g;  // dx (ICg x OH*OW) = w^T (ICg x OCg) . dy (OCg x OH*OW)
  g.m = icg;
  g.n = hw;
  g.k = ocg;
  g.a = a.w;
  g.lda = icg;
  g.trans_a = true;
  g.b = a.dy;
  g.ldb = hw;
  g.c = dense;
  g.ldc = hw;
  g.batch = s.n;
  g.stride_b = s.oc * hw;
  g.stride_c = s.ic * hw;
  pointwise_gemm(s, g, ocg * icg, ocg * hw, icg * hw, backend);
  if (is_strided(s)) scatter_strided(dense, a.dx, s);
}

void backward_weights_pointwise(const ConvBackwardWeightsArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t hw = s.oh * s.ow, icg = s.icg(), ocg = s.ocg();
  const float* x = pointwise_input(a.x, s);
  if (s.n == 0) std::fill(a.dw, a.dw + s.oc * icg, 0.0f);
  // dw (OCg x ICg) = sum_n dy_n (OCg x OH*OW) . x_n^T; images in order, so
  // the sum does not depend on the thread count.
  for (int64_t n = 0; n < s.n; ++n) {
    GemmArgs g;
    g.m = ocg;
    g.n = icg;
    g.k = hw;
    g.a = a.dy + n * s.oc * hw;
    g.lda = hw;
    g.b = x + n * s.ic * hw;
    g.ldb = hw;
    g.trans_b = true;
    g.c = a.dw;
    g.ldc = icg;
    g.beta = n == 0 ? 0.0f : 1.0f;
    pointwise_gemm(s, g, ocg * hw, icg * hw, ocg * icg, backend);
  }
  if (a.db) bias_gradient_ref(a.dy, a.db, s);
}

// ---------------------------------------------------------------------------
// The ISA implementations: pointwise layers as GEMMs, all others direct.
// ---------------------------------------------------------------------------
template <class Args>
void run_isa(const Args& a, void (*direct)(const Args&), void (*pointwise)(const Args&, const char*),
             const char* isa, const char* op) {
  if (!is_pointwise(a.s)) return direct(a);
  pointwise(a, isa);
  // After the GEMM, which records its own choice on this thread.
  record_dispatch(op, cat(op, "_", isa, "_gemm1x1").c_str());
}

#ifdef DLCORE_HAVE_AVX2
void forward_avx2(const ConvForwardArgs& a) {
  run_isa(a, conv2d_forward_avx2, forward_pointwise, "avx2", "conv2d_forward");
}
void backward_data_avx2(const ConvBackwardDataArgs& a) {
  run_isa(a, conv2d_backward_data_avx2, backward_data_pointwise, "avx2", "conv2d_backward_data");
}
void backward_weights_avx2(const ConvBackwardWeightsArgs& a) {
  run_isa(a, conv2d_backward_weights_avx2, backward_weights_pointwise, "avx2", "conv2d_backward_weights");
}
#endif
#ifdef DLCORE_HAVE_AVX512
void forward_avx512(const ConvForwardArgs& a) {
  run_isa(a, conv2d_forward_avx512, forward_pointwise, "avx512", "conv2d_forward");
}
void backward_data_avx512(const ConvBackwardDataArgs& a) {
  run_isa(a, conv2d_backward_data_avx512, backward_data_pointwise, "avx512", "conv2d_backward_data");
}
void backward_weights_avx512(const ConvBackwardWeightsArgs& a) {
  run_isa(a, conv2d_backward_weights_avx512, backward_weights_pointwise, "avx512", "conv2d_backward_weights");
}
#endif

}  // namespace

const Registry<ConvForwardArgs>& conv2d_forward_registry() {
  // Every implementation accepts every valid shape.
  static const Registry<ConvForwardArgs> registry("conv2d_forward", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_forward_avx512", Isa::avx512, nullptr, forward_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_forward_avx2", Isa::avx2, nullptr, forward_avx2},
#endif
    {"conv2d_forward_ref", Isa::ref, nullptr, forward_ref},
  });
  return registry;
}

const Registry<ConvBackwardDataArgs>& conv2d_backward_data_registry() {
  static const Registry<ConvBackwardDataArgs> registry("conv2d_backward_data", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_backward_data_avx512", Isa::avx512, nullptr, backward_data_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_data_avx2", Isa::avx2, nullptr, backward_data_avx2},
#endif
    {"conv2d_backward_data_ref", Isa::ref, nullptr, backward_data_ref},
  });
  return registry;
}

const Registry<ConvBackwardWeightsArgs>& conv2d_backward_weights_registry() {
  static const Registry<ConvBackwardWeightsArgs> registry("conv2d_backward_weights", {
#ifdef DLCORE_HAVE_AVX512
    {"conv2d_backward_weights_avx512", Isa::avx512, nullptr, backward_weights_avx512},
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_weights_avx2", Isa::avx2, nullptr, backward_weights_avx2},
#endif
    {"conv2d_backward_weights_ref", Isa::ref, nullptr, backward_weights_ref},
  });
  return registry;
}

}  // namespace dlcore
