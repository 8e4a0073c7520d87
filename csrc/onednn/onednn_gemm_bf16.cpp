// The bf16 column of the oneDNN gemm, for comparison with ours: oneDNN's
// matmul on bf16 A/B with a float32 (or bf16) C, the same argument checks and
// messages as _C's (the dtype rules of bindings/bind_gemm.cpp). oneDNN picks
// its own implementation (AMX / AVX512-BF16 brgemm where the CPU has them);
// on a CPU without bf16 instructions it may refuse to create the primitive,
// which raises BackendUnavailableError with oneDNN's message.
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/gemm_call.h"
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
  GemmBf16Call call = check_gemm_bf16_call(a_obj, b_obj, trans_a, trans_b, beta, out_obj, out_dtype);
  const py::array &a = call.a, &b = call.b;
  py::array& c = call.c;
  const int64_t m = call.m, n = call.n, k = call.k;
  const bool want_bf16 = call.out_bf16;
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
