// Batch normalization over (N, C) or (N, C, H, W): statistics per channel
// over N (and H*W). Checks live in bindings/bind_norm.cpp; the kernels are
// templates in norm_kernels.h.
#pragma once
#include <cstdint>

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

const Registry<BatchNormArgs>& batch_norm_registry(BatchNormOp op);

void batch_norm_avx2(const BatchNormArgs& a);
void batch_norm_avx512(const BatchNormArgs& a);

}  // namespace dlcore
