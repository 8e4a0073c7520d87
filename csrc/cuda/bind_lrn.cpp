// dlcore._cuda local response normalization, across or within channels.
#include <pybind11/pybind11.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {

static LrnParams lrn_params(const DeviceArray& x, int64_t size, float alpha, float beta, float k,
                            const std::string& region, bool alpha_over_size, const char* op) {
  DLCORE_CHECK(region == "across" || region == "within", op, ": region must be 'across' or 'within', got '", region,
               "'");
  DLCORE_CHECK(size >= 1, op, ": size must be positive, got ", size);
  DLCORE_CHECK(k > 0.0f, op, ": k must be positive, got ", k);
  for (int64_t d : x.shape) check_int32(d, op, "an extent of x");
  LrnParams p;
  p.n = int(x.shape[0]), p.c = int(x.shape[1]), p.h = int(x.shape[2]), p.w = int(x.shape[3]);
  p.size = int(size);
  p.within = region == "within";
  const float window = p.within ? float(size) * float(size) : float(size);
  p.alpha_eff = alpha_over_size ? alpha / window : alpha;
  p.beta = beta, p.k = k;
  return p;
}

static py::object forward_entry(py::handle x_obj, int64_t size, float alpha, float beta, float k,
                                const std::string& region, bool alpha_over_size, const std::string&) {
  const char* op = "lrn_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  const LrnParams p = lrn_params(x, size, alpha, beta, k, region, alpha_over_size, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  without_gil([&] { lrn_forward(x.f32(), y.f32(), p, stream); });
  return y.obj;
}

static py::object backward_entry(py::handle dy_obj, py::handle x_obj, int64_t size, float alpha, float beta, float k,
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
  m.def("lrn_forward", &forward_entry, py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4f,
        py::arg("beta") = 0.75f, py::arg("k") = 1.0f, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "cuda");
  m.def("lrn_backward", &backward_entry, py::arg("dy"), py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4f,
        py::arg("beta") = 0.75f, py::arg("k") = 1.0f, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "cuda");
}

}  // namespace cuda
}  // namespace dlcore
