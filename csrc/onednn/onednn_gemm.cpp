// gemm over oneDNN's matmul primitive: C = alpha * op(A) @ op(B) + beta * C.
// Transposition is expressed as strides of the memory descriptors (no copy);
// alpha is a runtime source scale, beta a `sum` post-op (absent when beta == 0,
// so C is never read then).
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/gemm_call.h"
#include "onednn/common.h"
#include "onednn/gemm_bf16.h"
#include "onednn/ops.h"

namespace dlcore {
namespace onednn {

static memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed) {
  // op(X) is rows x cols; X itself is stored row-major, transposed or not.
  return transposed ? memory::desc({rows, cols}, dt::f32, memory::dims{1, rows})
                    : memory::desc({rows, cols}, dt::f32, memory::dims{cols, 1});
}

static py::array gemm_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha, float beta,
                            py::handle out_obj, const std::string&, py::handle out_dtype) {
  const char* op = "gemm";
  if (is_bf16_array(a_obj) || is_bf16_array(b_obj))  // the bf16 column (onednn_gemm_bf16.cpp)
    return gemm_bf16_entry(a_obj, b_obj, trans_a, trans_b, alpha, beta, out_obj, out_dtype);
  DLCORE_CHECK_TYPE(!parse_out_dtype_bf16(out_dtype, op, false) && !is_bf16_array(out_obj),
                    "gemm: a bfloat16 output needs bfloat16 a and b (got float32 operands)");
  GemmCall call = check_gemm_call(a_obj, b_obj, trans_a, trans_b, beta, out_obj);
  const FloatArray &a = call.a, &b = call.b;
  FloatArray c = call.c;
  const int64_t m = call.m, n = call.n, ka = call.k;
  if (m == 0 || n == 0) return c;
  float* cp = c.mutable_data();
  if (ka == 0) {  // empty sum: C = beta * C (beta == 0 writes zeros, never reads C)
    for (int64_t i = 0; i < m * n; ++i) cp[i] = beta == 0.0f ? 0.0f : beta * cp[i];
    return c;
  }

  const bool scaled = alpha != 1.0f;
  auto plan = cached_plan(key_of(op, m, n, ka, trans_a, trans_b, scaled, beta), [&] {
    dnnl::primitive_attr attr = plan_attr();
    if (scaled) attr.set_scales_mask(DNNL_ARG_SRC, 0);
    if (beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    auto ad = matrix_desc(m, ka, trans_a), bd = matrix_desc(ka, n, trans_b);
    auto cd = matrix_desc(m, n, false);
    dnnl::matmul::primitive_desc pd(cpu_engine(), ad, bd, cd, attr);
    return make_plan<dnnl::matmul::primitive_desc, dnnl::matmul>(
        pd, {{DNNL_ARG_SRC, ad, false}, {DNNL_ARG_WEIGHTS, bd, false}, {DNNL_ARG_DST, cd, true}});
  });
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(plan->args[0].user, a.data())},
                                          {DNNL_ARG_WEIGHTS, user_memory(plan->args[1].user, b.data())},
                                          {DNNL_ARG_DST, user_memory(plan->args[2].user, cp)}};
  if (scaled) {
    memory scale(memory::desc({1}, dt::f32, tag::a), cpu_engine(), &alpha);
    args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC] = scale;
  }
  plan->run(std::move(args));
  return c;
}

void init_gemm(py::module_& m) {
  m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(), py::arg("backend") = "onednn",
        py::arg("out_dtype") = py::none());
}

}  // namespace onednn
}  // namespace dlcore
