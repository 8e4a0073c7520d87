// Softmax and log-softmax along an axis, and the fused softmax cross-entropy.
// Checks live in bindings/bind_softmax.cpp; kernels in softmax_kernels.h.
#pragma once
#include <cstdint>

#include "dispatch/registry.h"

namespace dlcore {

enum class SoftmaxOp : int {
  softmax_forward,         // in = x -> out = y
  log_softmax_forward,     // in = x -> out = log y
  softmax_backward,        // dy, in = y -> out = dx
  log_softmax_backward,    // dy, in = log y -> out = dx
  cross_entropy_forward,   // in = logits (outer, len), target -> out = log_probs, loss
  cross_entropy_backward,  // dloss, in = log_probs, target -> out = dlogits
};

// Tensors viewed as (outer, len, inner) with the softmax axis in the middle.
struct SoftmaxArgs {
  SoftmaxOp op = SoftmaxOp::softmax_forward;
  int64_t outer = 0, len = 0, inner = 1;
  const float* in = nullptr;
  const float* dy = nullptr;
  float* out = nullptr;
  const int64_t* target = nullptr;  // cross entropy, (outer,)
  float* loss = nullptr;            // cross_entropy_forward, (outer,)
  const float* dloss = nullptr;     // cross_entropy_backward, (outer,)
  float label_smoothing = 0.0f;
};

const Registry<SoftmaxArgs>& softmax_registry(SoftmaxOp op);

// Per ISA: rows (the axis innermost) and strided (any inner extent).
void softmax_rows_avx2(const SoftmaxArgs& a);
void softmax_strided_avx2(const SoftmaxArgs& a);
void softmax_rows_avx512(const SoftmaxArgs& a);
void softmax_strided_avx512(const SoftmaxArgs& a);

}  // namespace dlcore
