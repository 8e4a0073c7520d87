// Convolution: the plain reference loops (the truth the fast paths are tested
// against) and the three registries, fastest first, reference last.
#include "ops/conv/conv.h"

#include <algorithm>
#include <limits>

#include "core/buffer.h"
#include "core/epilogue.h"
#include "core/parallel.h"
#include "core/threads.h"
#include "gemm/gemm.h"

namespace dlcore {

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
          y[oh * s.ow + ow] = a.relu ? relu_scalar(sum) : sum;
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
                sum += a.dy[((n * s.oc + o) * s.oh + oh) * s.ow + ow] * a.w[((o * icg + c) * s.kh + kh) * s.kw + kw];
            }
          }
          dx[ih * s.iw + iw] = sum;
        }
    }
}

}  // namespace

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

namespace {

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

bool is_strided(const ConvShape& s) { return s.sh != 1 || s.sw != 1; }

// x[n, c, oh*sh, ow*sw] -> dst (N, C, OH, OW).
// On the tile pool like every memory-bound pass (core/parallel.h), not an
// OpenMP team of every thread: ResNet's downsampling layers gather a few
// hundred KB.
void gather_strided(const float* x, float* dst, const ConvShape& s) {
  parallel_units(s.n * s.ic, 8 * s.n * s.ic * s.oh * s.ow, [&](int64_t nc0, int64_t nc1) {
    for (int64_t nc = nc0; nc < nc1; ++nc)
      for (int64_t oh = 0; oh < s.oh; ++oh) {
        const float* in = x + (nc * s.ih + oh * s.sh) * s.iw;
        float* out = dst + (nc * s.oh + oh) * s.ow;
        for (int64_t ow = 0; ow < s.ow; ++ow) out[ow] = in[ow * s.sw];
      }
  });
}

// dense (N, C, OH, OW) -> dx[n, c, oh*sh, ow*sw], zeros elsewhere.
void scatter_strided(const float* dense, float* dx, const ConvShape& s) {
  parallel_units(s.n * s.ic, 4 * s.n * s.ic * (s.ih * s.iw + s.oh * s.ow), [&](int64_t nc0, int64_t nc1) {
    for (int64_t nc = nc0; nc < nc1; ++nc) {
      float* plane = dx + nc * s.ih * s.iw;
      std::fill(plane, plane + s.ih * s.iw, 0.0f);
      for (int64_t oh = 0; oh < s.oh; ++oh)
        for (int64_t ow = 0; ow < s.ow; ++ow) plane[oh * s.sh * s.iw + ow * s.sw] = dense[(nc * s.oh + oh) * s.ow + ow];
    }
  });
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
  const float* bias = g.bias_row;  // forward: the bias of all output channels, m of them per group
  for (int64_t grp = 0; grp < s.groups; ++grp) {
    g.a = a + grp * a_group;
    g.b = b + grp * b_group;
    g.c = c + grp * c_group;
    g.bias_row = bias ? bias + grp * g.m : nullptr;
    gemm(g, backend);
  }
}

void forward_pointwise(const ConvForwardArgs& a, const char* backend) {
  const ConvShape& s = a.s;
  const int64_t hw = s.oh * s.ow, icg = s.icg(), ocg = s.ocg();
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
  // Bias (one per output channel: a row of C) and ReLU in the GEMM's epilogue,
  // tile by tile: no pass that fills y with the bias first.
  g.bias_row = a.bias;
  g.relu = a.relu;
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
  // dw (OCg x ICg) = sum_n dy_n (OCg x OH*OW) . x_n^T; images added in
  // order (sum_batch: one parallel loop per group, not one per image), so
  // the sum does not depend on the thread count.
  GemmArgs g;
  g.m = ocg;
  g.n = icg;
  g.k = hw;
  g.a = a.dy;
  g.lda = hw;
  g.b = x;
  g.ldb = hw;
  g.trans_b = true;
  g.c = a.dw;
  g.ldc = icg;
  g.batch = s.n;
  g.stride_a = s.oc * hw;
  g.stride_b = s.ic * hw;
  g.sum_batch = true;
  if (s.n > 0) pointwise_gemm(s, g, ocg * hw, icg * hw, ocg * icg, backend);
  if (a.db) bias_gradient_ref(a.dy, a.db, s);
}

// ---------------------------------------------------------------------------
// The registry entries: per ISA, the algorithms of conv.h, fastest first,
// each declining (with the reason) what it cannot run; the reference last.
// ---------------------------------------------------------------------------

template <class Args>
std::string declines_gemm1x1(const Args& a) {
  return is_pointwise(a.s) ? std::string()
                           : cat("not a 1x1 unpadded convolution (kernel ", a.s.kh, "x", a.s.kw, ", padding (", a.s.pt,
                                 ", ", a.s.pb, ", ", a.s.pl, ", ", a.s.pr, "))");
}
template <class Args>
std::string declines_depthwise(const Args& a) {
  return use_depthwise(a.s) ? std::string()
                            : cat("not depthwise (needs 1 input and <= 4 output channels per group and groups > 1; "
                                  "ICg=",
                                  a.s.icg(), ", OCg=", a.s.ocg(), ", groups=", a.s.groups, ")");
}
template <class Args, int Width>
std::string declines_narrow(const Args& a) {
  return use_narrow(a.s, Width) ? std::string()
                                : cat("input channels per group ", a.s.icg(), " > ", narrow_channels(Width));
}
std::string declines_col2im(const ConvBackwardDataArgs& a) {
  return use_col2im(a.s) ? std::string() : cat("input channels per group ", a.s.icg(), " > ", kNarrowChannels);
}
std::string declines_gather(const ConvBackwardDataArgs& a) {
  return backward_data_as_forward(a.s)
             ? std::string()
             : cat("needs stride 1 and padding <= dilation * (kernel - 1) (stride (", a.s.sh, ", ", a.s.sw, "))");
}

// The 1x1-as-GEMM entries: dlcore::gemm on the same ISA, which records its
// own choice on this thread; the conv entry is recorded again after it.
template <class Args>
void run_gemm1x1(const Args& a, void (*pointwise)(const Args&, const char*), Isa isa, const char* op,
                 const char* name) {
  const std::string declined = last_dispatch_declined();
  pointwise(a, isa_name(isa));
  record_dispatch(op, name, declined);
}

// The three passes of an algorithm that runs as dlcore::gemm on the entry's
// ISA: FWD / BWD_DATA / BWD_WEIGHTS (Args, const char* backend).
#define DLCORE_CONV_VIA_GEMM(ISA, ALGO, FWD, BWD_DATA, BWD_WEIGHTS)                                              \
  void forward_##ALGO##_##ISA(const ConvForwardArgs& a) {                                                        \
    run_gemm1x1(a, FWD, Isa::ISA, "conv2d_forward", "conv2d_forward_" #ISA "_" #ALGO);                           \
  }                                                                                                              \
  void backward_data_##ALGO##_##ISA(const ConvBackwardDataArgs& a) {                                             \
    run_gemm1x1(a, BWD_DATA, Isa::ISA, "conv2d_backward_data", "conv2d_backward_data_" #ISA "_" #ALGO);          \
  }                                                                                                              \
  void backward_weights_##ALGO##_##ISA(const ConvBackwardWeightsArgs& a) {                                       \
    run_gemm1x1(a, BWD_WEIGHTS, Isa::ISA, "conv2d_backward_weights", "conv2d_backward_weights_" #ISA "_" #ALGO); \
  }
#define DLCORE_CONV_GEMM1X1(ISA) \
  DLCORE_CONV_VIA_GEMM(ISA, gemm1x1, forward_pointwise, backward_data_pointwise, backward_weights_pointwise)
#ifdef DLCORE_HAVE_AVX2
DLCORE_CONV_GEMM1X1(avx2)
#endif
#ifdef DLCORE_HAVE_AVX512
DLCORE_CONV_GEMM1X1(avx512)
#endif
#undef DLCORE_CONV_GEMM1X1

// Small images as GEMMs over the minibatch (conv_fold.cpp), their GEMMs on
// the same ISA; recorded like the 1x1 entries.
template <class Args>
std::string declines_fold(const Args& a) {
  return use_fold(a.s) ? std::string()
                       : cat("output ", a.s.oh, "x", a.s.ow, " has more than ", kFoldMaxPixels, " pixels");
}
#define DLCORE_CONV_FOLD(ISA) \
  DLCORE_CONV_VIA_GEMM(ISA, fold, conv2d_forward_fold, conv2d_backward_data_fold, conv2d_backward_weights_fold)
#ifdef DLCORE_HAVE_AVX2
DLCORE_CONV_FOLD(avx2)
#endif
#ifdef DLCORE_HAVE_AVX512
DLCORE_CONV_FOLD(avx512)
#endif
#undef DLCORE_CONV_FOLD
#undef DLCORE_CONV_VIA_GEMM

// Backward data of a narrow input as GEMM + col2im (conv_col2im.cpp), its
// GEMM on the same ISA; recorded like the 1x1 entries.
#define DLCORE_CONV_COL2IM(ISA)                                                   \
  void backward_data_col2im_##ISA(const ConvBackwardDataArgs& a) {                \
    run_gemm1x1(a, conv2d_backward_data_col2im, Isa::ISA, "conv2d_backward_data", \
                "conv2d_backward_data_" #ISA "_col2im");                          \
  }
#ifdef DLCORE_HAVE_AVX2
DLCORE_CONV_COL2IM(avx2)
#endif
#ifdef DLCORE_HAVE_AVX512
DLCORE_CONV_COL2IM(avx512)
#endif
#undef DLCORE_CONV_COL2IM

// The direct algorithms of one ISA, looked up when the list is built.
#define DLCORE_CONV_DIRECT(ISA, FIELD, ARGS) \
  void FIELD##_##ISA(const ARGS& a) { conv_algorithms_##ISA().FIELD(a); }
#define DLCORE_CONV_DIRECT_ALL(ISA)                                            \
  DLCORE_CONV_DIRECT(ISA, forward_depthwise, ConvForwardArgs)                  \
  DLCORE_CONV_DIRECT(ISA, forward_narrow, ConvForwardArgs)                     \
  DLCORE_CONV_DIRECT(ISA, forward_blocked, ConvForwardArgs)                    \
  DLCORE_CONV_DIRECT(ISA, backward_data_depthwise, ConvBackwardDataArgs)       \
  DLCORE_CONV_DIRECT(ISA, backward_data_gather, ConvBackwardDataArgs)          \
  DLCORE_CONV_DIRECT(ISA, backward_data_scatter, ConvBackwardDataArgs)         \
  DLCORE_CONV_DIRECT(ISA, backward_weights_depthwise, ConvBackwardWeightsArgs) \
  DLCORE_CONV_DIRECT(ISA, backward_weights_narrow, ConvBackwardWeightsArgs)    \
  DLCORE_CONV_DIRECT(ISA, backward_weights_blocked, ConvBackwardWeightsArgs)
#ifdef DLCORE_HAVE_AVX2
DLCORE_CONV_DIRECT_ALL(avx2)
#endif
#ifdef DLCORE_HAVE_AVX512
DLCORE_CONV_DIRECT_ALL(avx512)
#endif
#undef DLCORE_CONV_DIRECT_ALL
#undef DLCORE_CONV_DIRECT

}  // namespace

// Per ISA: 1x1 as GEMM, depthwise, narrow input, blocked direct (accepts
// every valid shape); the reference last. The order is the former run_isa's
// (1x1 first, then depthwise, then narrow).
const Registry<ConvForwardArgs>& conv2d_forward_registry() {
  using A = ConvForwardArgs;
  static const Registry<A> registry(
      "conv2d_forward",
      {
          DLCORE_IF_AVX512(
              {"conv2d_forward_avx512_gemm1x1", Isa::avx512, declines_gemm1x1<A>, forward_gemm1x1_avx512},
              {"conv2d_forward_avx512_depthwise", Isa::avx512, declines_depthwise<A>, forward_depthwise_avx512},
              {"conv2d_forward_avx512_fold", Isa::avx512, declines_fold<A>, forward_fold_avx512},
              {"conv2d_forward_avx512_narrow", Isa::avx512, declines_narrow<A, 16>, forward_narrow_avx512},
              {"conv2d_forward_avx512_blocked", Isa::avx512, nullptr, forward_blocked_avx512}, )
              DLCORE_IF_AVX2(
                  {"conv2d_forward_avx2_gemm1x1", Isa::avx2, declines_gemm1x1<A>, forward_gemm1x1_avx2},
                  {"conv2d_forward_avx2_depthwise", Isa::avx2, declines_depthwise<A>, forward_depthwise_avx2},
                  {"conv2d_forward_avx2_fold", Isa::avx2, declines_fold<A>, forward_fold_avx2},
                  {"conv2d_forward_avx2_narrow", Isa::avx2, declines_narrow<A, 8>, forward_narrow_avx2},
                  {"conv2d_forward_avx2_blocked", Isa::avx2, nullptr, forward_blocked_avx2}, ){
                  "conv2d_forward_ref", Isa::ref, nullptr, forward_ref},
      });
  return registry;
}

const Registry<ConvBackwardDataArgs>& conv2d_backward_data_registry() {
  using A = ConvBackwardDataArgs;
  static const Registry<A> registry(
      "conv2d_backward_data",
      {
          DLCORE_IF_AVX512(
              {"conv2d_backward_data_avx512_gemm1x1", Isa::avx512, declines_gemm1x1<A>, backward_data_gemm1x1_avx512},
              {"conv2d_backward_data_avx512_depthwise", Isa::avx512, declines_depthwise<A>,
               backward_data_depthwise_avx512},
              {"conv2d_backward_data_avx512_fold", Isa::avx512, declines_fold<A>, backward_data_fold_avx512},
              {"conv2d_backward_data_avx512_col2im", Isa::avx512, declines_col2im, backward_data_col2im_avx512},
              {"conv2d_backward_data_avx512_gather", Isa::avx512, declines_gather, backward_data_gather_avx512},
              {"conv2d_backward_data_avx512_scatter", Isa::avx512, nullptr, backward_data_scatter_avx512}, )
              DLCORE_IF_AVX2(
                  {"conv2d_backward_data_avx2_gemm1x1", Isa::avx2, declines_gemm1x1<A>, backward_data_gemm1x1_avx2},
                  {"conv2d_backward_data_avx2_depthwise", Isa::avx2, declines_depthwise<A>,
                   backward_data_depthwise_avx2},
                  {"conv2d_backward_data_avx2_fold", Isa::avx2, declines_fold<A>, backward_data_fold_avx2},
                  {"conv2d_backward_data_avx2_col2im", Isa::avx2, declines_col2im, backward_data_col2im_avx2},
                  {"conv2d_backward_data_avx2_gather", Isa::avx2, declines_gather, backward_data_gather_avx2},
                  {"conv2d_backward_data_avx2_scatter", Isa::avx2, nullptr, backward_data_scatter_avx2}, ){
                  "conv2d_backward_data_ref", Isa::ref, nullptr, backward_data_ref},
      });
  return registry;
}

const Registry<ConvBackwardWeightsArgs>& conv2d_backward_weights_registry() {
  using A = ConvBackwardWeightsArgs;
  static const Registry<A> registry(
      "conv2d_backward_weights",
      {
          DLCORE_IF_AVX512(
              {"conv2d_backward_weights_avx512_gemm1x1", Isa::avx512, declines_gemm1x1<A>,
               backward_weights_gemm1x1_avx512},
              {"conv2d_backward_weights_avx512_depthwise", Isa::avx512, declines_depthwise<A>,
               backward_weights_depthwise_avx512},
              {"conv2d_backward_weights_avx512_fold", Isa::avx512, declines_fold<A>, backward_weights_fold_avx512},
              {"conv2d_backward_weights_avx512_narrow", Isa::avx512, declines_narrow<A, 16>,
               backward_weights_narrow_avx512},
              {"conv2d_backward_weights_avx512_blocked", Isa::avx512, nullptr, backward_weights_blocked_avx512}, )
              DLCORE_IF_AVX2(
                  {"conv2d_backward_weights_avx2_gemm1x1", Isa::avx2, declines_gemm1x1<A>,
                   backward_weights_gemm1x1_avx2},
                  {"conv2d_backward_weights_avx2_depthwise", Isa::avx2, declines_depthwise<A>,
                   backward_weights_depthwise_avx2},
                  {"conv2d_backward_weights_avx2_fold", Isa::avx2, declines_fold<A>, backward_weights_fold_avx2},
                  {"conv2d_backward_weights_avx2_narrow", Isa::avx2, declines_narrow<A, 8>,
                   backward_weights_narrow_avx2},
                  {"conv2d_backward_weights_avx2_blocked", Isa::avx2, nullptr, backward_weights_blocked_avx2}, ){
                  "conv2d_backward_weights_ref", Isa::ref, nullptr, backward_weights_ref},
      });
  return registry;
}

}  // namespace dlcore
