// gemm over oneDNN's matmul primitive: C = alpha * op(A) @ op(B) + beta * C.
// Transposition is expressed as strides of the memory descriptors (no copy);
// alpha is a runtime source scale, beta a `sum` post-op (absent when beta == 0,
// so C is never read then).
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"

namespace dlcore {
namespace onednn {

static memory::desc matrix_desc(int64_t rows, int64_t cols, bool transposed) {
  // op(X) is rows x cols; X itself is stored row-major, transposed or not.
  return transposed ? memory::desc({rows, cols}, dt::f32, memory::dims{1, rows})
                    : memory::desc({rows, cols}, dt::f32, memory::dims{cols, 1});
}

static FloatArray gemm_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b,
                             float alpha, float beta, py::handle out_obj, const std::string&) {
  const char* op = "gemm";
  FloatArray a = input_f32(a_obj, op, "a", 2);
  FloatArray b = input_f32(b_obj, op, "b", 2);
  const int64_t m = trans_a ? a.shape(1) : a.shape(0);
  const int64_t ka = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  const int64_t n = trans_b ? b.shape(0) : b.shape(1);
  DLCORE_CHECK(ka == kb, op, ": inner dimensions differ: op(a) is ", shape_str({m, ka}),
               " and op(b) is ", shape_str({kb, n}), " (a ", shape_str(shape_of(a)),
               ", trans_a=", trans_a, "; b ", shape_str(shape_of(b)), ", trans_b=", trans_b, ")");
  FloatArray c;
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    c = new_f32({m, n});
  } else {
    c = output_f32(out_obj, op, "out", {m, n});
    check_no_alias(c, a, op, "out", "a");
    check_no_alias(c, b, op, "out", "b");
  }
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
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, user_memory(plan->args[0].user, a.data())},
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
  m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("out") = py::none(), py::arg("backend") = "onednn");
}

}  // namespace onednn
}  // namespace dlcore
