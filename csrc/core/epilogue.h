// Fused epilogues of the float32 forward kernels (issue 17): a bias and an
// activation applied to an output tile while it is still in registers or in
// L1, on the thread that computed it, instead of separate passes over the
// whole output (a NumPy `y += b` and a relu kernel: two more round trips
// through memory per layer).
#pragma once
// No includes: the vector type V is a parameter (core/simd.h), so CUDA and
// baseline files include this as plain C++.

namespace dlcore {

enum class Activation : int { none = 0, relu = 1 };

inline const char* activation_name(Activation act) { return act == Activation::relu ? "relu" : "none"; }

// ReLU exactly as relu_forward computes it (ops/eltwise/eltwise_kernels.h,
// ReluForward with slope 0): x > 0 ? x : 0, NaN propagates, -0 gives +0. So a
// fused ReLU is bitwise the unfused one whenever the values before it are.
inline float relu_scalar(float x) { return x > 0.0f || x != x ? x : 0.0f; }

template <class V>
inline __attribute__((always_inline)) typename V::reg relu_vec(typename V::reg x) {
  return V::select(V::cmp_gt(x, V::zero()), x, V::select(V::is_nan(x), x, V::zero()));
}

}  // namespace dlcore
