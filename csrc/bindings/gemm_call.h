// Argument checks of the Python gemm() entry, shared by every backend module
// (_C and _onednn) so the API and its error messages are the same everywhere.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/array.h"
#include "bindings/bf16_array.h"

namespace dlcore {

struct GemmCall {
  FloatArray a, b, c;  // c: `out`, or a fresh (m, n) array
  int64_t m = 0, n = 0, k = 0;
};

inline GemmCall check_gemm_call(pybind11::handle a_obj, pybind11::handle b_obj, bool trans_a, bool trans_b, float beta,
                                pybind11::handle out_obj) {
  const char* op = "gemm";
  GemmCall call;
  call.a = input_f32(a_obj, op, "a", 2);
  call.b = input_f32(b_obj, op, "b", 2);
  const FloatArray& a = call.a;
  const FloatArray& b = call.b;
  call.m = trans_a ? a.shape(1) : a.shape(0);
  call.k = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  call.n = trans_b ? b.shape(0) : b.shape(1);
  DLCORE_CHECK(call.k == kb, op, ": inner dimensions differ: op(a) is ", shape_str({call.m, call.k}), " and op(b) is ",
               shape_str({kb, call.n}), " (a ", shape_str(shape_of(a)), ", trans_a=", trans_a, "; b ",
               shape_str(shape_of(b)), ", trans_b=", trans_b, ")");
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    call.c = new_f32({call.m, call.n});
  } else {
    call.c = output_f32(out_obj, op, "out", {call.m, call.n});
    check_no_alias(call.c, a, op, "out", "a");
    check_no_alias(call.c, b, op, "out", "b");
  }
  return call;
}

// The bfloat16 column of gemm(): a and b bf16, C float32 or bf16 (out_dtype, or out's dtype).
struct GemmBf16Call {
  pybind11::array a, b, c;  // c: `out`, or a fresh (m, n) array of the output dtype
  int64_t m = 0, n = 0, k = 0;
  bool out_bf16 = false;
};

inline GemmBf16Call check_gemm_bf16_call(pybind11::handle a_obj, pybind11::handle b_obj, bool trans_a, bool trans_b,
                                         float beta, pybind11::handle out_obj, pybind11::handle out_dtype) {
  const char* op = "gemm";
  DLCORE_CHECK_TYPE(is_bf16_array(a_obj) && is_bf16_array(b_obj), op,
                    ": a and b must have the same dtype (both float32 or both bfloat16), got a ", dtype_name(a_obj),
                    " and b ", dtype_name(b_obj),
                    "; convert one explicitly (.astype(dlcore.bfloat16) or .astype(numpy.float32))");
  GemmBf16Call call;
  call.a = input_bf16(a_obj, op, "a", 2);
  call.b = input_bf16(b_obj, op, "b", 2);
  const pybind11::array& a = call.a;
  const pybind11::array& b = call.b;
  call.m = trans_a ? a.shape(1) : a.shape(0);
  call.k = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  call.n = trans_b ? b.shape(0) : b.shape(1);
  DLCORE_CHECK(call.k == kb, op, ": inner dimensions differ: op(a) is ", shape_str({call.m, call.k}), " and op(b) is ",
               shape_str({kb, call.n}), " (a ", shape_str(shape_of(a)), ", trans_a=", trans_a, "; b ",
               shape_str(shape_of(b)), ", trans_b=", trans_b, ")");
  const bool out_is_bf16 = !out_obj.is_none() && is_bf16_array(out_obj);
  call.out_bf16 = parse_out_dtype_bf16(out_dtype, op, out_is_bf16);
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    call.c = call.out_bf16 ? new_bf16({call.m, call.n}) : pybind11::array(new_f32({call.m, call.n}));
  } else {
    DLCORE_CHECK_TYPE(out_is_bf16 == call.out_bf16, op, ": out is ", dtype_name(out_obj), " but out_dtype is ",
                      call.out_bf16 ? "bfloat16" : "float32", "; pass an out= array of the output dtype");
    call.c = call.out_bf16 ? output_bf16(out_obj, op, "out", {call.m, call.n})
                           : pybind11::array(output_f32(out_obj, op, "out", {call.m, call.n}));
    check_no_alias(call.c, a, op, "out", "a");
    check_no_alias(call.c, b, op, "out", "b");
  }
  return call;
}

}  // namespace dlcore
