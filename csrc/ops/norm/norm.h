// Batch normalization over (N, C) or (N, C, H, W): statistics per channel
// over N (and H*W). The checks shared by every module (_C:
// bindings/bind_norm.cpp, _onednn: onednn/onednn_norm.cpp) are below; the
// kernels are templates in norm_kernels.h.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "dispatch/registry.h"

namespace dlcore {

enum class BatchNormOp : int { forward_training, forward_inference, backward };

// x viewed as (n, c, s): s = H*W (1 for the 1-D case).
struct BatchNormArgs {
  BatchNormOp op = BatchNormOp::forward_training;
  int64_t n = 0, c = 0, s = 0;
  const float* x = nullptr;
  const float* weight = nullptr;  // (c,) or nullptr: no affine (weight 1, bias 0)
  const float* bias = nullptr;
  float eps = 1e-5f;
  // forward_training writes mean, invstd and the biased batch variance var;
  // backward reads mean and invstd.
  float* mean = nullptr;
  float* invstd = nullptr;
  float* var = nullptr;
  // forward_inference reads these.
  const float* running_mean = nullptr;
  const float* running_var = nullptr;
  float* y = nullptr;         // forward output
  const float* dy = nullptr;  // backward
  float* dx = nullptr;
  float* dweight = nullptr;  // nullptr when no affine
  float* dbias = nullptr;
};

// ---- checks, one place for every backend (so both refuse the same calls alike)

// x (N, C) or (N, C, H, W), not empty -> n, c and s = H*W (1 for (N, C)).
inline void batch_norm_view(const Shape& xs, int64_t* n, int64_t* c, int64_t* s, const char* op) {
  DLCORE_CHECK(xs.size() == 2 || xs.size() == 4, op, ": x must be (N, C) or (N, C, H, W), got ", shape_str(xs));
  int64_t size = 1;
  for (int64_t d : xs) size *= d;
  DLCORE_CHECK(size > 0, op, ": x ", shape_str(xs), " is empty");
  *n = xs[0];
  *c = xs[1];
  *s = xs.size() == 4 ? xs[2] * xs[3] : 1;
}

// A per-channel (C,) argument (weight, bias, running or saved statistics).
inline void check_batch_norm_channels(const Shape& ps, int64_t c, const char* op, const char* name) {
  DLCORE_CHECK(ps == Shape{c}, op, ": ", name, " has shape ", shape_str(ps), ", expected (", c, ",) for ", c,
               " channels");
}

inline void check_batch_norm_eps(float eps, const char* op) {
  DLCORE_CHECK(std::isfinite(eps) && eps > 0.0f, op, ": eps must be a positive finite number, got ", eps);
}

// forward_training: more than one value per channel (count = N*H*W), momentum in [0, 1], and both running
// statistics or neither.
inline void check_batch_norm_training(const Shape& xs, int64_t count, float momentum, bool has_running_mean,
                                      bool has_running_var, const char* op) {
  DLCORE_CHECK(count > 1, op, ": x ", shape_str(xs),
               " has only one value per channel (N*H*W = 1); training statistics need more than one");
  DLCORE_CHECK(momentum >= 0.0f && momentum <= 1.0f, op, ": momentum must be in [0, 1], got ", momentum);
  DLCORE_CHECK(has_running_mean == has_running_var, op, ": pass both running_mean and running_var, or neither");
}

// backward: dy has x's shape.
inline void check_batch_norm_dy(const Shape& dy, const Shape& x, const char* op) {
  DLCORE_CHECK(dy == x, op, ": dy ", shape_str(dy), " and x ", shape_str(x), " must have the same shape");
}

// forward_inference: the running variance must be >= 0 (not NaN) for every channel.
inline void check_running_var(const float* running_var, int64_t c, const char* op) {
  for (int64_t i = 0; i < c; ++i)
    DLCORE_CHECK(running_var[i] >= 0.0f, op, ": running_var[", i, "] = ", running_var[i], " is negative or NaN");
}

const Registry<BatchNormArgs>& batch_norm_registry(BatchNormOp op);

void batch_norm_avx2(const BatchNormArgs& a);
void batch_norm_avx512(const BatchNormArgs& a);

}  // namespace dlcore
