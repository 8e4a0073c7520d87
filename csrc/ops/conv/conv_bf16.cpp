// bfloat16 convolution as implicit GEMM over the bf16 GEMM (conv_bf16.h).
// Baseline code: the im2col / col2im loops are data movement; the
// arithmetic runs in the GEMM of the chosen ISA (gemm_run_isa).
#include "ops/conv/conv_bf16.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/bf16.h"
#include "core/parallel.h"
#include "core/threads.h"
#include "gemm/gemm.h"

namespace dlcore {
namespace {

int64_t k_of(const ConvShape& s) { return s.icg() * s.kh * s.kw; }
int64_t p_of(const ConvShape& s) { return s.oh * s.ow; }

// 1x1, stride 1, no padding: the (ICg, H*W) input plane block is the column matrix.
bool is_stride1_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pb == 0 && s.pl == 0 && s.pr == 0;
}

// Threads for a data-movement loop of `work` elements (at least 64 Ki each);
// the loops take their ranges from the tile pool (core/parallel.h).
int move_threads(int64_t work) { return int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), work >> 16))); }

// Bytes of column buffer per chunk of images: images are processed in
// chunks so that one batched GEMM (one parallel region) serves a chunk,
// instead of a GEMM with its own fork/join per image (measured: per-image
// GEMMs made the bf16 AlexNet-CIFAR convolutions 15x slower than float32 at
// batch 64 on the loaded 2-core machine).
std::atomic<int64_t> g_chunk_bytes{int64_t(32) << 20};

int64_t chunk_images(const ConvShape& s, int64_t bytes_per_image) {
  return std::max<int64_t>(1, std::min<int64_t>(s.n, g_chunk_bytes.load() / std::max<int64_t>(1, bytes_per_image)));
}

// Row r = (c*KH + i)*KW + j of the column matrix of one (image, group):
// dst[p] = x[c, oy*sh - pt + i*dh, ox*sw - pl + j*dw] for p = oy*OW + ox, 0 outside;
// x points at the group's first channel of the image.
void im2col_row(const ConvShape& s, const uint16_t* x, int64_t r, uint16_t* dst) {
  const int64_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
  const uint16_t* plane = x + c * s.ih * s.iw;
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    const int64_t iy = oy * s.sh - s.pt + i * s.dh;
    uint16_t* row = dst + oy * s.ow;
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

// Column matrices of images [n0, n0+nb), all groups, in one parallel region.
// Row r of (image n, group g) goes to dst + offset(n, g) + r * ld.
template <class Offset>
void im2col_chunk(const ConvShape& s, const uint16_t* x, int64_t n0, int64_t nb, int64_t ld, Offset offset,
                  uint16_t* dst) {
  const int64_t K = k_of(s), rows = nb * s.groups * K;
  parallel_each(rows, move_threads(rows * p_of(s)), [&](int64_t t) {
    const int64_t n = t / (s.groups * K), g = (t / K) % s.groups, r = t % K;
    const uint16_t* xg = x + ((n0 + n) * s.ic + g * s.icg()) * s.ih * s.iw;
    im2col_row(s, xg, r, dst + offset(n, g) + r * ld);
  });
}

uint16_t* bf16_scratch(int slot, int64_t count) {
  return reinterpret_cast<uint16_t*>(conv_scratch(slot, size_t(count + 1) / 2 + 1));
}

// y[n, g] = W_g . cols(n, g): per chunk of images, one im2col region and one
// batched GEMM per group (the batch runs one product per thread).
template <Isa isa>
void forward(const ConvBf16ForwardArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const bool pw = is_stride1_pointwise(s);
  const int64_t chunk = chunk_images(s, s.groups * K * P * 2);
  uint16_t* cols = pw ? nullptr : bf16_scratch(0, chunk * s.groups * K * P);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    if (!pw) im2col_chunk(s, a.x, n0, nb, P, [&](int64_t n, int64_t g) { return (n * s.groups + g) * K * P; }, cols);
    for (int64_t g = 0; g < s.groups; ++g) {
      GemmArgs ga;
      ga.m = ocg;
      ga.n = P;
      ga.k = K;
      ga.a16 = a.w + g * ocg * K;
      ga.lda = K;
      ga.stride_a = 0;
      ga.b16 = pw ? a.x + (n0 * s.ic + g * s.icg()) * P : cols + g * K * P;
      ga.ldb = P;
      ga.stride_b = pw ? s.ic * P : s.groups * K * P;
      ga.c = a.y + (n0 * s.oc + g * ocg) * P;
      ga.ldc = P;
      ga.stride_c = s.oc * P;
      ga.batch = nb;
      gemm_run_isa(ga, isa);
    }
  }
  if (a.bias)
    parallel_each(s.n * s.oc, move_threads(s.n * s.oc * P), [&](int64_t no) {
      float* yp = a.y + no * P;
      const float b = a.bias[no % s.oc];
      for (int64_t p = 0; p < P; ++p) yp[p] += b;
    });
}

// dcols(n, g) = W_g^T . dy[n, g] as one batched GEMM per group and chunk, then col2im.
template <Isa isa>
void backward_data(const ConvBf16BackwardDataArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const bool pw = is_stride1_pointwise(s);
  const int64_t chunk = chunk_images(s, s.groups * K * P * 4);
  float* dcols = pw ? nullptr : conv_scratch(1, size_t(chunk * s.groups * K * P));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    for (int64_t g = 0; g < s.groups; ++g) {
      GemmArgs ga;  // (K x P) = W_g^T (K x OCg) . dy (OCg x P)
      ga.m = K;
      ga.n = P;
      ga.k = ocg;
      ga.a16 = a.w + g * ocg * K;
      ga.lda = K;
      ga.trans_a = true;
      ga.stride_a = 0;
      ga.b16 = a.dy + (n0 * s.oc + g * ocg) * P;
      ga.ldb = P;
      ga.stride_b = s.oc * P;
      ga.c = pw ? a.dx + (n0 * s.ic + g * s.icg()) * P : dcols + g * K * P;
      ga.ldc = P;
      ga.stride_c = pw ? s.ic * P : s.groups * K * P;
      ga.batch = nb;
      gemm_run_isa(ga, isa);
    }
    if (!pw) conv_col2im(s, dcols, nb, a.dx + n0 * s.ic * s.ih * s.iw);  // conv.h, shared with float32
  }
}

// dW_g = sum_n dy[n, g] . cols(n, g)^T as one GEMM per group and chunk whose
// shared dimension runs over the chunk's images and pixels: dy gathered to
// (OCg x nb*P), the columns laid out (K x nb*P).
template <Isa isa>
void backward_weights(const ConvBf16BackwardWeightsArgs& a) {
  const ConvShape& s = a.s;
  const int64_t K = k_of(s), P = p_of(s), ocg = s.ocg();
  const int64_t chunk = chunk_images(s, s.groups * (K + ocg) * P * 2);
  uint16_t* cols = bf16_scratch(0, chunk * s.groups * K * P);
  uint16_t* dyg = bf16_scratch(2, chunk * s.oc * P);
  if (s.n == 0) std::fill(a.dw, a.dw + s.oc * K, 0.0f);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0), ld = nb * P;
    im2col_chunk(s, a.x, n0, nb, ld, [&](int64_t n, int64_t g) { return g * K * ld + n * P; }, cols);
    parallel_each(nb * s.oc, move_threads(nb * s.oc * P), [&](int64_t t) {  // dyg[g][o][n][p] = dy[n0+n][g*OCg+o][p]
      const int64_t n = t / s.oc, o = t % s.oc;
      std::memcpy(dyg + (o * nb + n) * P, a.dy + ((n0 + n) * s.oc + o) * P, sizeof(uint16_t) * size_t(P));
    });
    for (int64_t g = 0; g < s.groups; ++g) {
      GemmArgs ga;  // dW_g (OCg x K) (+)= dyg (OCg x nb*P) . cols^T (nb*P x K)
      ga.m = ocg;
      ga.n = K;
      ga.k = ld;
      ga.a16 = dyg + g * ocg * ld;
      ga.lda = ld;
      ga.b16 = cols + g * K * ld;
      ga.ldb = ld;
      ga.trans_b = true;
      ga.c = a.dw + g * ocg * K;
      ga.ldc = K;
      ga.beta = n0 == 0 ? 0.0f : 1.0f;
      gemm_run_isa(ga, isa);
    }
  }
  if (a.db)
    parallel_each(s.oc, move_threads(s.n * s.oc * P), [&](int64_t o) {
      float sum = 0.0f;
      for (int64_t n = 0; n < s.n; ++n) {
        const uint16_t* d = a.dy + (n * s.oc + o) * P;
        for (int64_t p = 0; p < P; ++p) sum += bf16_to_f32(d[p]);
      }
      a.db[o] = sum;
    });
}

}  // namespace

int64_t conv_bf16_set_chunk_bytes(int64_t bytes) { return g_chunk_bytes.exchange(std::max<int64_t>(1, bytes)); }

// Fastest first; each accepts every valid geometry (the GEMM takes any
// shape). Names say the algorithm and the GEMM ISA underneath.
#define DLCORE_CONV_BF16_ENTRIES(fn, op)                                             \
  {op "_bf16_gemm_amx", Isa::amx, nullptr, fn<Isa::amx>},                            \
      {op "_bf16_gemm_avx512bf16", Isa::avx512_bf16, nullptr, fn<Isa::avx512_bf16>}, \
      {op "_bf16_gemm_avx512", Isa::avx512, nullptr, fn<Isa::avx512>},

const Registry<ConvBf16ForwardArgs>& conv2d_forward_bf16_registry() {
  static const Registry<ConvBf16ForwardArgs> registry(
      "conv2d_forward", {
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
  static const Registry<ConvBf16BackwardDataArgs> registry(
      "conv2d_backward_data",
      {
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
  static const Registry<ConvBf16BackwardWeightsArgs> registry(
      "conv2d_backward_weights",
      {
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
