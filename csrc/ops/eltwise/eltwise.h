// Activations: element-wise forward/backward maps (ReLU/leaky ReLU, sigmoid,
// tanh, ELU, abs), PReLU (per-channel slope) and maxout, plus the test hooks
// for the vectorized math (vexp, vlog, vtanh). Checks live in
// bindings/bind_eltwise.cpp; the kernels are templates in eltwise_kernels.h.
#pragma once
#include <cstdint>

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
