// dlcore._C.gemm: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <time.h>
#include <algorithm>

#include <chrono>
#include <vector>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/gemm_call.h"
#include "bindings/init.h"
#include "gemm/gemm.h"

namespace py = pybind11;

namespace dlcore {

// The bfloat16 column: a and b bf16, C float32 or bf16 (out_dtype, or out's dtype).
static py::array gemm_bf16_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha,
                                 float beta, py::handle out_obj, py::handle out_dtype, const std::string& backend) {
  GemmBf16Call call = check_gemm_bf16_call(a_obj, b_obj, trans_a, trans_b, beta, out_obj, out_dtype);
  const py::array &a = call.a, &b = call.b;
  py::array& c = call.c;
  const int64_t m = call.m, n = call.n, k = call.k;
  const bool want_bf16 = call.out_bf16;
  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a16 = bf16_data(a);
  g.lda = a.shape(1);
  g.trans_a = trans_a;
  g.b16 = bf16_data(b);
  g.ldb = b.shape(1);
  g.trans_b = trans_b;
  if (want_bf16)
    g.c16 = bf16_mutable_data(c);
  else
    g.c = static_cast<float*>(c.mutable_data());
  g.ldc = n;
  g.alpha = alpha;
  g.beta = beta;
  const auto& impl = gemm_registry().select(g, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(g);
  }
  return c;
}

static py::array gemm_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha, float beta,
                            py::handle out_obj, const std::string& backend, py::handle out_dtype) {
  if (is_bf16_array(a_obj) || is_bf16_array(b_obj))
    return gemm_bf16_entry(a_obj, b_obj, trans_a, trans_b, alpha, beta, out_obj, out_dtype, backend);
  DLCORE_CHECK_TYPE(!parse_out_dtype_bf16(out_dtype, "gemm", false) && !is_bf16_array(out_obj),
                    "gemm: a bfloat16 output needs bfloat16 a and b (got float32 operands)");
  GemmCall call = check_gemm_call(a_obj, b_obj, trans_a, trans_b, beta, out_obj);
  const FloatArray &a = call.a, &b = call.b;
  FloatArray c = call.c;
  const int64_t m = call.m, n = call.n, ka = call.k;

  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = ka;
  g.a = a.data();
  g.lda = a.shape(1);
  g.trans_a = trans_a;
  g.b = b.data();
  g.ldb = b.shape(1);
  g.trans_b = trans_b;
  g.c = c.mutable_data();
  g.ldc = n;
  g.alpha = alpha;
  g.beta = beta;
  const auto& impl = gemm_registry().select(g, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(g);
  }
  return c;
}

// dlcore._C.linear_forward: y = act(x w^T + bias) for x (N, in), w (out, in),
// bias (out,) or None: one GEMM (trans_b on the stored weight) with the bias
// and the activation in its epilogue, tile by tile (gemm.h), instead of a GEMM,
// a NumPy `y += b` and a relu pass over y.
static FloatArray linear_forward_entry(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle activation,
                                       const std::string& backend) {
  const char* op = "linear_forward";
  const Activation act = args::activation_arg(activation, op);
  FloatArray x = input_f32(x_obj, op, "x", 2);
  FloatArray w = input_f32(w_obj, op, "w", 2);
  DLCORE_CHECK(x.shape(1) == w.shape(1), op, ": x ", shape_str(shape_of(x)), " and w ", shape_str(shape_of(w)),
               " differ in in_features (x.shape[1] must equal w.shape[1])");
  GemmArgs g;
  FloatArray bias;
  if (!bias_obj.is_none()) {
    bias = input_f32(bias_obj, op, "bias", 1);
    DLCORE_CHECK(bias.shape(0) == w.shape(0), op, ": bias has shape ", shape_str(shape_of(bias)), ", expected (",
                 w.shape(0), ",) for w ", shape_str(shape_of(w)));
    g.bias_col = bias.data();
  }
  FloatArray y = new_f32({x.shape(0), w.shape(0)});
  g.m = x.shape(0);
  g.n = w.shape(0);
  g.k = x.shape(1);
  g.a = x.data();
  g.lda = g.k;
  g.b = w.data();
  g.ldb = g.k;
  g.trans_b = true;
  g.c = y.mutable_data();
  g.ldc = g.n;
  g.relu = act == Activation::relu;
  const auto& impl = gemm_registry().select(g, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(g);
  }
  return y;
}

// Tuning hook: square n x n product with explicit cache blocks; returns
// seconds (median of `repeats`). With thread_cpu_time (meaningful with one
// thread) it reports the calling thread's CPU time instead of wall time, which
// does not count the periods the thread was descheduled on a busy machine.
static double now_seconds(bool thread_cpu_time) {
  if (thread_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double gemm_tune_seconds(int64_t n, const std::string& isa, int mc, int kc, int nc, int repeats,
                                bool thread_cpu_time) {
  Isa target = Isa::ref;
  DLCORE_CHECK(parse_isa_backend(isa, "gemm_tune", &target), "gemm_tune: name an ISA, not 'auto'");
  DLCORE_CHECK(n > 0 && repeats > 0, "gemm_tune: n and repeats must be positive");
  std::vector<float> a(size_t(n * n), 1.0f), b(size_t(n * n), 0.5f), c(size_t(n * n));
  GemmArgs g;
  g.m = g.n = g.k = n;
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  g.lda = g.ldb = g.ldc = n;
  std::vector<double> times;
  py::gil_scoped_release nogil;
  gemm_with_blocking(g, target, mc, kc, nc);  // warm-up
  for (int r = 0; r < repeats; ++r) {
    double t0 = now_seconds(thread_cpu_time);
    gemm_with_blocking(g, target, mc, kc, nc);
    times.push_back(now_seconds(thread_cpu_time) - t0);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void init_gemm(py::module_& m) {
  m.def("gemm_tune_seconds", &gemm_tune_seconds, py::arg("n"), py::arg("isa"), py::arg("mc"), py::arg("kc"),
        py::arg("nc"), py::arg("repeats") = 5, py::arg("thread_cpu_time") = false);
  m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(), py::arg("backend") = "auto",
        py::arg("out_dtype") = py::none());
  m.def("linear_forward", &linear_forward_entry, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("activation") = py::none(), py::arg("backend") = "auto",
        "y = act(x @ w.T + bias): one GEMM with the bias and activation (None, 'none', 'relu') fused in its "
        "epilogue");
}

}  // namespace dlcore
