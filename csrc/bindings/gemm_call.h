// Argument checks of the Python gemm() entry, shared by every backend module
// (_C and _onednn) so the API and its error messages are the same everywhere.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/array.h"

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

}  // namespace dlcore
