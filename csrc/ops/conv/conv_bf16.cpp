// bfloat16 convolution as implicit GEMM over the bf16 GEMM (conv_bf16.h).
// Baseline code: the im2col / col2im loops are data movement; the
// arithmetic runs in the GEMM of the chosen ISA (gemm_run_isa).
#include "ops/conv/conv_bf16.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/bf16.h"
#include "core/threads.h"
#include "gemm/gemm.h"

namespace dlcore {
namespace {

int64_t k_of(const ConvShape& s) { return s.icg() * s.kh * s.kw; }
int64_t p_of(const ConvShape& s) { return s.oh * s.ow; }

// 1x1, stride 1, no padding: the (ICg, H*W) input plane block is the column matrix.
bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pb == 0 && s.pl == 0 && s.pr == 0;
}

// Threads for a data-movement loop of `work` elements (at least 64 Ki each).
int move_threads(int64_t work) {
  return int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), work >> 16)));
}

// cols[(c*KH + i)*KW + j][oy*OW + ox] = x[c, oy*sh - pt + i*dh, ox*sw - pl + j*dw], 0 outside;
// x points at the group's first channel of one image.
void im2col(const ConvShape& s, const uint16_t* x, uint16_t* cols) {
  const int64_t K = k_of(s), P = p_of(s);
#pragma omp parallel for num_threads(move_threads(K * P)) schedule(static)
  for (int64_t r = 0; r < K; ++r) {
    const int64_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
    const uint16_t* plane = x + c * s.ih * s.iw;
    uint16_t* out = cols + r * P;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      const int64_t iy = oy * s.sh - s.pt + i * s.dh;
      uint16_t* row = out + oy * s.ow;
      if (iy < 0 || iy >= s.ih) {
        std::memset(row, 0, sizeof(uint16_t) * size_t(s.ow));
        continue;
      }
      const uint16_t* in = plane + iy * s.iw;
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t ix = ox * s.sw - s.pl + j * s.dw;
        row[ox] = (ix >= 0 && ix < s.iw) ? in[ix] : uint16_t(0);
      }
    }
  }
}

// dx[c, iy, ix] = sum of dcols over the (i, j, oy, ox) that read it; dx
// points at the group's first channel of one image and is fully written.
// Threads own channels (disjoint planes), each summed in a fixed order.
void col2im(const ConvShape& s, const float* dcols, float* dx) {
  const int64_t P = p_of(s), icg = s.icg();
#pragma omp parallel for num_threads(move_threads(k_of(s) * P)) schedule(static)
  for (int64_t c = 0; c < icg; ++c) {
    float* plane = dx + c * s.ih * s.iw;
    std::fill(plane, plane + s.ih * s.iw, 0.0f);
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j) {
        const float* in = dcols + ((c * s.kh + i) * s.kw + j) * P;
        for (int64_t oy = 0; oy < s.oh; ++oy) {
          const int64_t iy = oy * s.sh - s.pt + i * s.dh;
          if (iy < 0 || iy >= s.ih) continue;
          float* row = plane + iy * s.iw;
          for (int64_t ox = 0; ox < s.ow; ++ox) {
            const int64_t ix = ox * s.sw - s.pl + j * s.dw;
            if (ix >= 0 && ix < s.iw) row[ix] += in[oy * s.ow + ox];
          }
        }
      }
  }
}

// Per-calling-thread bf16 column buffer (conv_scratch slot 0, in floats).
uint16_t* cols_buffer(const ConvShape& s) {
  return reinterpret_cast<uint16_t*>(conv_scratch(0, size_t(k_of(s) * p_of(s) + 1) / 2 + 1));
}

template <Isa isa>
void forward(const ConvBf16ForwardArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const bool pw = is_pointwise(s);
  uint16_t* cols = pw ? nullptr : cols_buffer(s);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t g = 0; g < s.groups; ++g) {
      const uint16_t* xg = a.x + (n * s.ic + g * s.icg()) * s.ih * s.iw;
      if (!pw) im2col(s, xg, cols);
      GemmArgs ga;
      ga.m = ocg;
      ga.n = P;
      ga.k = K;
      ga.a16 = a.w + g * ocg * K;
      ga.lda = K;
      ga.b16 = pw ? xg : cols;
      ga.ldb = P;
      ga.c = a.y + (n * s.oc + g * ocg) * P;
      ga.ldc = P;
      gemm_run_isa(ga, isa);
    }
  if (a.bias)
#pragma omp parallel for num_threads(move_threads(s.n * s.oc * P)) schedule(static)
    for (int64_t no = 0; no < s.n * s.oc; ++no) {
      float* yp = a.y + no * P;
      const float b = a.bias[no % s.oc];
      for (int64_t p = 0; p < P; ++p) yp[p] += b;
    }
}

template <Isa isa>
void backward_data(const ConvBf16BackwardDataArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const bool pw = is_pointwise(s);
  float* dcols = pw ? nullptr : conv_scratch(1, size_t(K * P));
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t g = 0; g < s.groups; ++g) {
      float* dxg = a.dx + (n * s.ic + g * s.icg()) * s.ih * s.iw;
      GemmArgs ga;  // dcols (K x P) = W_g^T (K x OCg) . dy (OCg x P)
      ga.m = K;
      ga.n = P;
      ga.k = ocg;
      ga.a16 = a.w + g * ocg * K;
      ga.lda = K;
      ga.trans_a = true;
      ga.b16 = a.dy + (n * s.oc + g * ocg) * P;
      ga.ldb = P;
      ga.c = pw ? dxg : dcols;
      ga.ldc = P;
      gemm_run_isa(ga, isa);
      if (!pw) col2im(s, dcols, dxg);
    }
}

template <Isa isa>
void backward_weights(const ConvBf16BackwardWeightsArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const bool pw = is_pointwise(s);
  uint16_t* cols = pw ? nullptr : cols_buffer(s);
  if (s.n == 0) std::fill(a.dw, a.dw + s.oc * K, 0.0f);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t g = 0; g < s.groups; ++g) {
      const uint16_t* xg = a.x + (n * s.ic + g * s.icg()) * s.ih * s.iw;
      if (!pw) im2col(s, xg, cols);
      GemmArgs ga;  // dW_g (OCg x K) (+)= dy (OCg x P) . cols^T (P x K)
      ga.m = ocg;
      ga.n = K;
      ga.k = P;
      ga.a16 = a.dy + (n * s.oc + g * ocg) * P;
      ga.lda = P;
      ga.b16 = pw ? xg : cols;
      ga.ldb = P;
      ga.trans_b = true;
      ga.c = a.dw + g * ocg * K;
      ga.ldc = K;
      ga.beta = n == 0 ? 0.0f : 1.0f;
      gemm_run_isa(ga, isa);
    }
  if (a.db)
    for (int64_t o = 0; o < s.oc; ++o) {
      float sum = 0.0f;
      for (int64_t n = 0; n < s.n; ++n) {
        const uint16_t* d = a.dy + (n * s.oc + o) * P;
        for (int64_t p = 0; p < P; ++p) sum += bf16_to_f32(d[p]);
      }
      a.db[o] = sum;
    }
}

}  // namespace

// Fastest first; each accepts every valid geometry (the GEMM takes any
// shape). Names say the algorithm and the GEMM ISA underneath.
#define DLCORE_CONV_BF16_ENTRIES(fn, op)                                   \
  {op "_bf16_gemm_amx", Isa::amx, nullptr, fn<Isa::amx>},                  \
  {op "_bf16_gemm_avx512bf16", Isa::avx512_bf16, nullptr, fn<Isa::avx512_bf16>}, \
  {op "_bf16_gemm_avx512", Isa::avx512, nullptr, fn<Isa::avx512>},

const Registry<ConvBf16ForwardArgs>& conv2d_forward_bf16_registry() {
  static const Registry<ConvBf16ForwardArgs> registry("conv2d_forward", {
#ifdef DLCORE_HAVE_AVX512
    DLCORE_CONV_BF16_ENTRIES(forward, "conv2d_forward")
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_forward_bf16_gemm_avx2", Isa::avx2, nullptr, forward<Isa::avx2>},
#endif
    {"conv2d_forward_bf16_gemm_ref", Isa::ref, nullptr, forward<Isa::ref>},
  });
  return registry;
}

const Registry<ConvBf16BackwardDataArgs>& conv2d_backward_data_bf16_registry() {
  static const Registry<ConvBf16BackwardDataArgs> registry("conv2d_backward_data", {
#ifdef DLCORE_HAVE_AVX512
    DLCORE_CONV_BF16_ENTRIES(backward_data, "conv2d_backward_data")
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_data_bf16_gemm_avx2", Isa::avx2, nullptr, backward_data<Isa::avx2>},
#endif
    {"conv2d_backward_data_bf16_gemm_ref", Isa::ref, nullptr, backward_data<Isa::ref>},
  });
  return registry;
}

const Registry<ConvBf16BackwardWeightsArgs>& conv2d_backward_weights_bf16_registry() {
  static const Registry<ConvBf16BackwardWeightsArgs> registry("conv2d_backward_weights", {
#ifdef DLCORE_HAVE_AVX512
    DLCORE_CONV_BF16_ENTRIES(backward_weights, "conv2d_backward_weights")
#endif
#ifdef DLCORE_HAVE_AVX2
    {"conv2d_backward_weights_bf16_gemm_avx2", Isa::avx2, nullptr, backward_weights<Isa::avx2>},
#endif
    {"conv2d_backward_weights_bf16_gemm_ref", Isa::ref, nullptr, backward_weights<Isa::ref>},
  });
  return registry;
}

}  // namespace dlcore
