// Softmax and log-softmax along an axis, and the fused softmax cross-entropy.
// The shape checks shared by every module (_C: bindings/bind_softmax.cpp,
// _onednn: onednn/onednn_softmax.cpp) are below; kernels in softmax_kernels.h.
#pragma once
#include <cstdint>

#include "core/check.h"
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

// ---- checks, one place for every backend (so both refuse the same calls alike)

// (outer, len, inner) of shape `s` around `axis` (negative: from the end).
// The axis must not be empty unless another extent is 0 (an empty batch).
inline void softmax_view_around_axis(const Shape& s, int64_t axis, int64_t* outer, int64_t* len, int64_t* inner,
                                     const char* op) {
  const int64_t nd = int64_t(s.size());
  DLCORE_CHECK(nd >= 1, op, ": x must have at least 1 dimension");
  DLCORE_CHECK(axis >= -nd && axis < nd, op, ": axis ", axis, " is out of range for shape ", shape_str(s));
  const int64_t ax = axis < 0 ? axis + nd : axis;
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < ax; ++i) *outer *= s[size_t(i)];
  for (int64_t i = ax + 1; i < nd; ++i) *inner *= s[size_t(i)];
  *len = s[size_t(ax)];
  DLCORE_CHECK(*len > 0 || *outer == 0 || *inner == 0, op, ": the softmax axis of shape ", shape_str(s), " is empty");
}

// dy and y of a backward call.
inline void check_softmax_backward_shapes(const Shape& dy, const Shape& y, const char* op) {
  DLCORE_CHECK(dy == y, op, ": dy ", shape_str(dy), " and y ", shape_str(y), " must have the same shape");
}

const Registry<SoftmaxArgs>& softmax_registry(SoftmaxOp op);

// Per ISA: rows (the axis innermost) and strided (any inner extent).
void softmax_rows_avx2(const SoftmaxArgs& a);
void softmax_strided_avx2(const SoftmaxArgs& a);
void softmax_rows_avx512(const SoftmaxArgs& a);
void softmax_strided_avx512(const SoftmaxArgs& a);

}  // namespace dlcore
