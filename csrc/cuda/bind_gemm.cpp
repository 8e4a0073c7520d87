// dlcore._cuda.gemm (+ the TF32 switch): checks -> CuPy output -> launch.
#include <pybind11/pybind11.h>

#include <atomic>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {

// Off by default: strict float32. Like torch.backends.cuda.matmul.allow_tf32.
static std::atomic<bool> g_allow_tf32{false};

static py::object gemm_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha, float beta,
                             py::handle out_obj, const std::string& /*backend*/) {
  const char* op = "gemm";
  DeviceArray a = device_input(a_obj, op, "a", DType::F32, 2);
  DeviceArray b = device_input(b_obj, op, "b", DType::F32, 2);
  const int64_t m = trans_a ? a.shape[1] : a.shape[0], ka = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0], n = trans_b ? b.shape[0] : b.shape[1];
  DLCORE_CHECK(ka == kb, op, ": inner dimensions differ: op(a) is ", shape_str({m, ka}), " and op(b) is ",
               shape_str({kb, n}), " (a ", shape_str(a.shape), ", trans_a=", trans_a, "; b ", shape_str(b.shape),
               ", trans_b=", trans_b, ")");
  for (int64_t extent : {m, n, ka}) check_int32(extent, op, "a matrix extent");
  DeviceArray c;
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    c = device_empty({m, n}, DType::F32);
  } else {
    c = device_inout(out_obj, op, "out", DType::F32, {m, n});
    check_no_alias(c, a, op, "out", "a");
    check_no_alias(c, b, op, "out", "b");
  }
  GemmParams p;
  p.m = int(m), p.n = int(n), p.k = int(ka);
  p.a = a.f32(), p.lda = a.shape[1], p.trans_a = trans_a;
  p.b = b.f32(), p.ldb = b.shape[1], p.trans_b = trans_b;
  p.c = c.f32(), p.ldc = n;
  p.alpha = alpha, p.beta = beta;
  p.tf32 = g_allow_tf32.load();
  const int64_t scratch = gemm_workspace(p);
  DeviceArray workspace = scratch > 0 ? device_empty({scratch}, DType::F32) : DeviceArray{};
  p.workspace = workspace.f32();
  cudaStream_t stream = current_stream();
  {
    py::gil_scoped_release nogil;
    gemm(p, stream);
  }
  return c.obj;
}

void init_gemm(py::module_& m) {
  m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(), py::arg("backend") = "cuda",
        "C = alpha op(A) op(B) + beta C on the GPU (see dlcore.kernels.gemm)");
  m.def(
      "set_allow_tf32", [](bool on) { g_allow_tf32.store(on); }, py::arg("on"),
      "Let gemm use TF32 tensor cores (inputs rounded to 10 mantissa bits, ~1e-3 relative error). Default off.");
  m.def("get_allow_tf32", [] { return g_allow_tf32.load(); });
  m.def(
      "gemm_variant",
      [](bool trans_a, bool trans_b) {
        GemmParams p;
        p.trans_a = trans_a, p.trans_b = trans_b, p.tf32 = g_allow_tf32.load();
        return std::string(gemm_variant(p));
      },
      py::arg("trans_a") = false, py::arg("trans_b") = false, "Name of the kernel gemm runs for these flags");
}

}  // namespace cuda
}  // namespace dlcore
