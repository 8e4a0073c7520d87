// The argument checks of the int8 entries, written once for every module that
// binds them (_C: bind_lowbit.cpp, _onednn: onednn_int8.cpp), as gemm_call.h
// is for the float GEMM: exact integer dtypes (a float array is never
// converted: TypeError), shapes, zero points in [0, 255], K small enough for
// exact int32 sums. GIL held.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/typed_array.h"
#include "ops/conv/conv.h"

namespace dlcore {

// Largest K for which 255 * 128 * K stays below 2^31 (exact int32 sums).
constexpr int64_t kMaxS8K = 65793;

inline int zero_point_param(int64_t zp, const char* op, const char* name) {
  DLCORE_CHECK(zp >= 0 && zp <= 255, op, ": ", name, " must be in [0, 255] (a uint8 value), got ", zp);
  return int(zp);
}

// Geometry of NCHW input `xs` and OIHW weight `ws`: conv's one check function
// (make_conv_shape: every relation and size overflow-checked) with the shared
// int-or-pair parsing; padding stays symmetric per axis (an int or a pair),
// which is what the int8 and binary kernels take.
inline ConvShape lowbit_conv_shape(const Shape& xs, const Shape& ws, py::handle stride, py::handle padding,
                                   py::handle dilation, int64_t groups, const char* op) {
  const auto pa = args::pair_arg(padding, op, "padding");
  return make_conv_shape(xs, ws, args::pair_arg(stride, op, "stride"), {pa[0], pa[0], pa[1], pa[1]},
                         args::pair_arg(dilation, op, "dilation"), groups, op);
}

// gemm_u8s8s32(a, b, a_zero_point): a uint8 (M, K), b int8 (N, K).
struct GemmU8S8Call {
  py::array_t<uint8_t, py::array::c_style> a;
  py::array_t<int8_t, py::array::c_style> b;
  int64_t m = 0, n = 0, k = 0;
  int zp = 0;
};

inline GemmU8S8Call check_gemm_u8s8s32_call(py::handle a_obj, py::handle b_obj, int64_t zp, const char* op) {
  GemmU8S8Call c;
  c.a = input_typed<uint8_t>(a_obj, op, "a", 2);
  c.b = input_typed<int8_t>(b_obj, op, "b", 2);
  DLCORE_CHECK(c.a.shape(1) == c.b.shape(1), op, ": a ", shape_str(shape_of(c.a)), " and b ", shape_str(shape_of(c.b)),
               " must share K (b is N x K, the layout of a Linear weight)");
  DLCORE_CHECK(c.a.shape(1) <= kMaxS8K, op, ": K = ", c.a.shape(1), " exceeds ", kMaxS8K,
               " (int32 sums of 255 * 128 products could overflow)");
  c.m = c.a.shape(0);
  c.n = c.b.shape(0);
  c.k = c.a.shape(1);
  c.zp = zero_point_param(zp, op, "a_zero_point");
  return c;
}

// conv2d_u8s8(x, w, x_zero_point, stride, padding, dilation, groups): x uint8
// NCHW, w int8 OIHW.
struct ConvU8S8Call {
  py::array_t<uint8_t, py::array::c_style> x;
  py::array_t<int8_t, py::array::c_style> w;
  ConvShape s;
  int zp = 0;
};

inline ConvU8S8Call check_conv2d_u8s8_call(py::handle x_obj, py::handle w_obj, int64_t zp, py::handle stride,
                                           py::handle padding, py::handle dilation, int64_t groups, const char* op) {
  ConvU8S8Call c;
  c.x = input_typed<uint8_t>(x_obj, op, "x", 4);
  c.w = input_typed<int8_t>(w_obj, op, "w", 4);
  c.s = lowbit_conv_shape(shape_of(c.x), shape_of(c.w), stride, padding, dilation, groups, op);
  DLCORE_CHECK(c.s.icg() * c.s.kh * c.s.kw <= kMaxS8K, op, ": a window of ", c.s.icg() * c.s.kh * c.s.kw,
               " taps exceeds ", kMaxS8K, " (int32 sums could overflow)");
  c.zp = zero_point_param(zp, op, "x_zero_point");
  return c;
}

}  // namespace dlcore
