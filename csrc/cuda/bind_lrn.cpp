// dlcore._cuda local response normalization, across or within channels.
#include <pybind11/pybind11.h>

#include <algorithm>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/lrn/lrn.h"

namespace dlcore {
namespace cuda {

// The checks are make_lrn_args (ops/lrn/lrn.h), shared with _C and _onednn.
// A window wider than the data is clipped, so the size is capped at the
// widest useful one (both reaches >= extent - 1), which keeps it an int.
static LrnParams lrn_params(const DeviceArray& x, int64_t size, double alpha, double beta, double k,
                            const std::string& region, bool alpha_over_size, const char* op) {
  const LrnArgs a = make_lrn_args(op, x.shape, size, alpha, beta, k, region, alpha_over_size);
  for (int64_t d : x.shape) check_int32(d, op, "an extent of x");
  LrnParams p;
  p.n = int(a.n), p.c = int(a.c), p.h = int(a.h), p.w = int(a.w);
  p.size = int(std::min<int64_t>(size, 2 * a.max_reach + 2));
  p.within = !a.across;
  p.alpha_eff = a.scaled_alpha();
  p.beta = a.beta, p.k = a.k;
  return p;
}

static py::object forward_entry(py::handle x_obj, int64_t size, double alpha, double beta, double k,
                                const std::string& region, bool alpha_over_size, const std::string&) {
  const char* op = "lrn_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  const LrnParams p = lrn_params(x, size, alpha, beta, k, region, alpha_over_size, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  without_gil([&] { lrn_forward(x.f32(), y.f32(), p, stream); });
  return y.obj;
}

static py::object backward_entry(py::handle dy_obj, py::handle x_obj, int64_t size, double alpha, double beta, double k,
                                 const std::string& region, bool alpha_over_size, const std::string&) {
  const char* op = "lrn_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  DLCORE_CHECK(dy.shape == x.shape, op, ": dy has shape ", shape_str(dy.shape), " but x has shape ",
               shape_str(x.shape));
  const LrnParams p = lrn_params(x, size, alpha, beta, k, region, alpha_over_size, op);
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(x.shape, DType::F32), scratch = device_empty(x.shape, DType::F32);
  without_gil([&] { lrn_backward(dy.f32(), x.f32(), dx.f32(), scratch.f32(), p, stream); });
  return dx.obj;
}

void init_lrn(py::module_& m) {
  m.def("lrn_forward", &forward_entry, py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4, py::arg("beta") = 0.75,
        py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "cuda");
  m.def("lrn_backward", &backward_entry, py::arg("dy"), py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4,
        py::arg("beta") = 0.75, py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "cuda");
}

}  // namespace cuda
}  // namespace dlcore
