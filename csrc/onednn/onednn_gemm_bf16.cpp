// The bf16 column of the oneDNN gemm, for comparison with ours: oneDNN's
// matmul on bf16 A/B with a float32 (or bf16) C, the same argument checks and
// messages as _C's (the dtype rules of bindings/bind_gemm.cpp). oneDNN picks
// its own implementation (AMX / AVX512-BF16 brgemm where the CPU has them);
// on a CPU without bf16 instructions it may refuse to create the primitive,
// which raises BackendUnavailableError with oneDNN's message.
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "onednn/common.h"
#include "onednn/gemm_bf16.h"

namespace dlcore {
namespace onednn {

static memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed, dt type) {
  return transposed ? memory::desc({rows, cols}, type, memory::dims{1, rows})
                    : memory::desc({rows, cols}, type, memory::dims{cols, 1});
}

py::array gemm_bf16_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha, float beta,
                          py::handle out_obj, py::handle out_dtype) {
  const char* op = "gemm";
  DLCORE_CHECK_TYPE(is_bf16_array(a_obj) && is_bf16_array(b_obj), op,
                    ": a and b must have the same dtype (both float32 or both bfloat16), got a ", dtype_name(a_obj),
                    " and b ", dtype_name(b_obj),
                    "; convert one explicitly (.astype(dlcore.bfloat16) or .astype(numpy.float32))");
  py::array a = input_bf16(a_obj, op, "a", 2), b = input_bf16(b_obj, op, "b", 2);
  const int64_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  DLCORE_CHECK(k == kb, op, ": inner dimensions differ: op(a) is ", shape_str({m, k}), " and op(b) is ",
               shape_str({kb, n}));
  const bool out_is_bf16 = !out_obj.is_none() && is_bf16_array(out_obj);
  const bool want_bf16 = parse_out_dtype_bf16(out_dtype, op, out_is_bf16);
  py::array c;
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    c = want_bf16 ? new_bf16({m, n}) : py::array(new_f32({m, n}));
  } else {
    DLCORE_CHECK_TYPE(out_is_bf16 == want_bf16, op, ": out is ", dtype_name(out_obj), " but out_dtype is ",
                      want_bf16 ? "bfloat16" : "float32", "; pass an out= array of the output dtype");
    c = want_bf16 ? output_bf16(out_obj, op, "out", {m, n}) : py::array(output_f32(out_obj, op, "out", {m, n}));
    check_no_alias(c, a, op, "out", "a");
    check_no_alias(c, b, op, "out", "b");
  }
  DLCORE_CHECK(m > 0 && n > 0 && k > 0, op, ": the oneDNN bf16 comparison path needs non-empty operands, got ",
               shape_str({m, n, k}));
  const dt ct = want_bf16 ? dt::bf16 : dt::f32;
  const bool scaled = alpha != 1.0f;
  std::shared_ptr<const Plan> plan;
  try {
    plan = cached_plan(key_of("gemm_bf16", m, n, k, trans_a, trans_b, scaled, beta, want_bf16), [&] {
      dnnl::primitive_attr attr = plan_attr();
      if (scaled) attr.set_scales_mask(DNNL_ARG_SRC, 0);
      if (beta != 0.0f) {
        dnnl::post_ops ops;
        ops.append_sum(beta);
        attr.set_post_ops(ops);
      }
      auto ad = matrix_desc(m, k, trans_a, dt::bf16), bd = matrix_desc(k, n, trans_b, dt::bf16);
      auto cd = matrix_desc(m, n, false, ct);
      dnnl::matmul::primitive_desc pd(cpu_engine(), ad, bd, cd, attr);
      return make_plan<dnnl::matmul::primitive_desc, dnnl::matmul>(
          pd, {{DNNL_ARG_SRC, ad, false}, {DNNL_ARG_WEIGHTS, bd, false}, {DNNL_ARG_DST, cd, true}});
    });
  } catch (const dnnl::error& e) {
    throw BackendError(cat(op, ": oneDNN has no bf16 matmul for this CPU (", e.what(), ")"));
  }
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(plan->args[0].user, a.data())},
                                          {DNNL_ARG_WEIGHTS, user_memory(plan->args[1].user, b.data())},
                                          {DNNL_ARG_DST, user_memory(plan->args[2].user, c.mutable_data())}};
  if (scaled) {
    memory scale(memory::desc({1}, dt::f32, tag::a), cpu_engine(), &alpha);
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = scale;
  }
  plan->run(std::move(args));
  return c;
}

}  // namespace onednn
}  // namespace dlcore
