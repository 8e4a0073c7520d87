// Activations: element-wise forward/backward maps (ReLU/leaky ReLU, sigmoid,
// tanh, ELU, abs), PReLU (per-channel slope) and maxout, plus the test hooks
// for the vectorized math (vexp, vlog, vtanh). The checks shared by every
// module (_C: bindings/bind_eltwise.cpp, _onednn: onednn/onednn_eltwise.cpp)
// are below; the kernels are templates in eltwise_kernels.h.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "dispatch/registry.h"

namespace dlcore {

// Every map out = f(a) or out = f(a, b) over n floats.
enum class EltwiseOp : int {
  relu_forward,      // a = x; alpha = negative slope
  relu_backward,     // a = dy, b = x
  sigmoid_forward,   // a = x
  sigmoid_backward,  // a = dy, b = y
  tanh_forward,
  tanh_backward,  // a = dy, b = y
  elu_forward,    // alpha
  elu_backward,   // a = dy, b = x; alpha
  abs_forward,
  abs_backward,  // a = dy, b = x
  vexp,          // test hooks for core/simd_math.h
  vlog,
  vtanh,
  count
};
const char* eltwise_op_name(EltwiseOp op);

struct EltwiseArgs {
  EltwiseOp op = EltwiseOp::relu_forward;
  int64_t n = 0;
  const float* a = nullptr;
  const float* b = nullptr;  // second input of backward maps, else nullptr
  float* out = nullptr;
  float alpha = 0.0f;
};

// x viewed as (outer, channels, inner); slope w[c] (channels == 1: shared).
struct PreluArgs {
  int64_t outer = 0, channels = 0, inner = 0;
  const float* x = nullptr;
  const float* w = nullptr;
  const float* dy = nullptr;  // backward only
  float* out = nullptr;       // y (forward) or dx (backward)
  float* dw = nullptr;        // backward only: (channels,)
};

// x viewed as (outer, groups * pool, inner) -> y, idx (outer, groups, inner).
// idx holds the winning position j in [0, pool) within each group.
struct MaxoutArgs {
  int64_t outer = 0, groups = 0, pool = 0, inner = 0;
  const float* x = nullptr;  // forward
  float* y = nullptr;
  int32_t* idx = nullptr;     // written by forward, read by backward
  const float* dy = nullptr;  // backward
  float* dx = nullptr;
};

// ---- checks, one place for every backend (so both refuse the same calls alike)

// A scalar hyper-parameter (ReLU's negative slope, ELU's alpha): finite.
inline void check_eltwise_param(float v, const char* op, const char* name) {
  DLCORE_CHECK(std::isfinite(v), op, ": ", name, " must be finite, got ", v);
}

// The two array arguments of a backward map (or of PReLU backward).
inline void check_same_shape(const Shape& a, const Shape& b, const char* op, const char* a_name, const char* b_name) {
  DLCORE_CHECK(a == b, op, ": ", a_name, " ", shape_str(a), " and ", b_name, " ", shape_str(b),
               " must have the same shape");
}

// PReLU's weight `ws`: (C,) for x (N, C, ...), or (1,) shared by any x.
inline void check_prelu_weight(const Shape& xs, const Shape& ws, const char* op) {
  DLCORE_CHECK(ws.size() == 1, op, ": weight must have 1 dimensions, got shape ", shape_str(ws));
  const int64_t c = ws[0];
  DLCORE_CHECK(c >= 1, op, ": weight must not be empty");
  DLCORE_CHECK(c == 1 || (xs.size() >= 2 && xs[1] == c), op, ": weight ", shape_str(ws), " needs x with ", c,
               " channels on axis 1, got x ", shape_str(xs));
}

const Registry<EltwiseArgs>& eltwise_registry(EltwiseOp op);
const Registry<PreluArgs>& prelu_forward_registry();
const Registry<PreluArgs>& prelu_backward_registry();
const Registry<MaxoutArgs>& maxout_forward_registry();
const Registry<MaxoutArgs>& maxout_backward_registry();

// Per-ISA entry points (eltwise_avx2.cpp, eltwise_avx512.cpp).
void eltwise_avx2(const EltwiseArgs& a);
void prelu_forward_avx2(const PreluArgs& a);
void prelu_backward_avx2(const PreluArgs& a);
void maxout_forward_avx2(const MaxoutArgs& a);
void maxout_backward_avx2(const MaxoutArgs& a);
void eltwise_avx512(const EltwiseArgs& a);
void prelu_forward_avx512(const PreluArgs& a);
void prelu_backward_avx512(const PreluArgs& a);
void maxout_forward_avx512(const MaxoutArgs& a);
void maxout_backward_avx512(const MaxoutArgs& a);

}  // namespace dlcore
