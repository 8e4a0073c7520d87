// dlcore._C.gemm: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <time.h>
#include <algorithm>

#include <chrono>
#include <vector>

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
}

}  // namespace dlcore
