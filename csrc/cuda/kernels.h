// Host-side launchers of every CUDA kernel family: plain pointers, sizes and
// the stream to launch on. The bind_*.cpp entries check the Python arguments
// and call these; the *.cu files implement them. No pybind11 or device code
// here, so g++ and nvcc can both include it.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace dlcore {
namespace cuda {

// ---- gemm.cu: C = alpha op(A) op(B) + beta C (row-major) ----------------------------
struct GemmParams {
  int m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;
  int64_t ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  bool tf32 = false;           // tensor cores with TF32 inputs (about 10 mantissa bits); off by default
  float* workspace = nullptr;  // gemm_workspace(p) floats when that is > 0 (split-K partial sums)
};
// Floats of workspace gemm(p) needs (split-K over a small output); 0 for none.
int64_t gemm_workspace(const GemmParams& p);
// out[i] = alpha * sum_j partial[j * count + i] + beta * out[i], j = 0..slices-1 in order
// (the fixed-order split-K reduction shared by gemm and conv backward weights).
void sum_slices(const float* partial, float* out, int64_t count, int slices, float alpha, float beta,
                cudaStream_t stream);
// Name of the kernel variant `p` runs ("sgemm_128x128x8_nt", "sgemm_tf32_wmma_...").
const char* gemm_variant(const GemmParams& p);
void gemm(const GemmParams& p, cudaStream_t stream);

// ---- eltwise.cu: activations, forward and backward over n elements ----------------
enum class Act { Relu, Sigmoid, Tanh, Elu, Abs };
// y = f(x); alpha = negative slope (relu) or alpha (elu).
void act_forward(Act act, const float* x, float* y, int64_t n, float alpha, cudaStream_t stream);
// dx = dy * f'(.); `in` is x (relu, elu, abs) or the forward output y (sigmoid, tanh).
void act_backward(Act act, const float* dy, const float* in, float* dx, int64_t n, float alpha, cudaStream_t stream);
// PReLU over axis 1 of an (outer, channels, inner) view; channels == 1: one shared weight.
void prelu_forward(const float* x, const float* w, float* y, int64_t outer, int64_t channels, int64_t inner,
                   cudaStream_t stream);
// dweight is reduced without atomics: `partial` holds channels * prelu_backward_slices(...) floats.
int64_t prelu_backward_slices(int64_t outer, int64_t channels, int64_t inner);
void prelu_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* partial,
                    int64_t outer, int64_t channels, int64_t inner, cudaStream_t stream);

// ---- softmax.cu: over the middle axis of an (outer, c, inner) view ----------------------
void softmax_forward(const float* x, float* y, int64_t outer, int64_t c, int64_t inner, bool log, cudaStream_t stream);
void softmax_backward(const float* dy, const float* y, float* dx, int64_t outer, int64_t c, int64_t inner, bool log,
                      cudaStream_t stream);
// Number of targets outside [0, c); synchronizes the stream (the caller raises on > 0).
int64_t count_bad_targets(const int64_t* target, int64_t n, int64_t c, int* scratch, cudaStream_t stream);
void cross_entropy_forward(const float* logits, const int64_t* target, float* loss, float* log_probs, int64_t n,
                           int64_t c, float label_smoothing, cudaStream_t stream);
void cross_entropy_backward(const float* dloss, const float* log_probs, const int64_t* target, float* dlogits,
                            int64_t n, int64_t c, float label_smoothing, cudaStream_t stream);

// ---- dropout.cu: Philox-4x32 (8 rounds) mask, see philox.h ----------------------------
void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, cudaStream_t stream);
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p, cudaStream_t stream);

// ---- norm.cu: batch normalization over an (n, c, inner) view ------------------------
struct BatchNormShape {
  int64_t n, c, inner;  // x is (n, c) with inner = 1, or (n, c, h, w) with inner = h * w
};
// Floats of scratch that training forward and backward need (per-channel partial
// statistics and coefficients); 0 when there is nothing to reduce.
int64_t batch_norm_workspace(BatchNormShape s);
// Training: per-channel mean and 1/sqrt(biased var + eps); running stats (may be null) updated in place.
void batch_norm_forward_training(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                 float* invstd, float* running_mean, float* running_var, float* workspace,
                                 BatchNormShape s, float momentum, float eps, cudaStream_t stream);
void batch_norm_forward_inference(const float* x, const float* weight, const float* bias, const float* running_mean,
                                  const float* running_var, float* y, BatchNormShape s, float eps, cudaStream_t stream);
// dweight/dbias may be null (no affine); weight null means 1.
void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* mean, const float* invstd,
                         float* dx, float* dweight, float* dbias, float* workspace, BatchNormShape s,
                         cudaStream_t stream);

// ---- pool.cu ----------------------------------------------------------------------
struct Pool2dShape {
  int n, c, h, w;  // input
  int oh, ow;      // output
  int kh, kw, sh, sw, ph, pw;
};
void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s, cudaStream_t stream);
// dx (planes of in_plane elements) must be zeroed by the launcher; scatters dy to dx[indices].
void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes, int64_t out_plane,
                         int64_t in_plane, cudaStream_t stream);
void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad, cudaStream_t stream);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s, bool count_include_pad, cudaStream_t stream);

// ---- lrn.cu -----------------------------------------------------------------------
struct LrnParams {
  int n, c, h, w;
  int size;
  float alpha_eff;  // alpha / window_elements, or alpha when alpha_over_size=False
  float beta, k;
  bool within;  // window over size x size pixels of one channel, else over `size` channels
};
void lrn_forward(const float* x, float* y, const LrnParams& p, cudaStream_t stream);
// `scratch` holds n*c*h*w floats.
void lrn_backward(const float* dy, const float* x, float* dx, float* scratch, const LrnParams& p, cudaStream_t stream);

// ---- conv.cu: implicit-GEMM convolution, NCHW / OIHW ---------------------------------
struct ConvShape {
  int n, c, h, w;              // input
  int o, kh, kw;               // weights (o, c / groups, kh, kw)
  int oh, ow;                  // output
  int sh, sw, pt, pl, dh, dw;  // stride, top/left padding, dilation
  int groups;
};
void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s,
                    cudaStream_t stream);
void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s, cudaStream_t stream);
// Split-K over the n*oh*ow reduction: workspace_floats(s) floats of scratch (0: none needed).
int64_t conv2d_backward_weights_workspace(const ConvShape& s);
void conv2d_backward_weights(const float* x, const float* dy, float* dw, float* db, float* workspace,
                             const ConvShape& s, cudaStream_t stream);

// ---- device.cu: what module.cpp reports ------------------------------------------------
int multiprocessor_count();

}  // namespace cuda
}  // namespace dlcore
