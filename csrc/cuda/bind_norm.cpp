// dlcore._cuda batch normalization: training forward, inference forward, backward.
#include <pybind11/pybind11.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/norm/norm.h"

namespace dlcore {
namespace cuda {

// The family's checks are ops/norm/norm.h's, shared with _C and _onednn, so every backend refuses the
// same calls alike.
static BatchNormShape bn_shape(const DeviceArray& x, const char* op) {
  BatchNormShape s;
  batch_norm_view(x.shape, &s.n, &s.c, &s.inner, op);
  return s;
}

// An optional per-channel (C,) float32 array: nullptr for None.
static DeviceArray per_channel(py::handle obj, int64_t c, const char* op, const char* name) {
  if (obj.is_none()) return DeviceArray{};
  DeviceArray a = device_input(obj, op, name, DType::F32);
  check_batch_norm_channels(a.shape, c, op, name);
  return a;
}

static DeviceArray per_channel_inout(py::handle obj, int64_t c, const char* op, const char* name) {
  if (obj.is_none()) return DeviceArray{};
  return device_inout(obj, op, name, DType::F32, {c});
}

// Scratch for the per-channel partial reductions (none for empty inputs).
static DeviceArray bn_workspace(const BatchNormShape& s) {
  const int64_t floats = batch_norm_workspace(s);
  return floats > 0 ? device_empty({floats}, DType::F32) : DeviceArray{};
}

// The running variance is on the device: read its C floats back to check them as the CPU modules do (a
// NaN or negative variance would otherwise give NaN outputs silently). C floats, one small copy per call.
static void check_device_running_var(const DeviceArray& rv, int64_t c, const char* op) {
  py::object host = rv.obj.attr("get")();
  const py::buffer_info info = py::cast<py::buffer>(host).request();
  check_running_var(static_cast<const float*>(info.ptr), c, op);
}

static py::tuple training_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj,
                                py::handle rv_obj, float momentum, float eps, const std::string&) {
  const char* op = "batch_norm_forward_training";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  const BatchNormShape s = bn_shape(x, op);
  DeviceArray w = per_channel(w_obj, s.c, op, "weight"), b = per_channel(b_obj, s.c, op, "bias");
  DeviceArray rm = per_channel_inout(rm_obj, s.c, op, "running_mean");
  DeviceArray rv = per_channel_inout(rv_obj, s.c, op, "running_var");
  check_batch_norm_training(x.shape, s.n * s.inner, momentum, !rm_obj.is_none(), !rv_obj.is_none(), op);
  check_batch_norm_eps(eps, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  DeviceArray mean = device_empty({s.c}, DType::F32), invstd = device_empty({s.c}, DType::F32);
  DeviceArray workspace = bn_workspace(s);
  without_gil([&] {
    batch_norm_forward_training(x.f32(), w.f32(), b.f32(), y.f32(), mean.f32(), invstd.f32(), rm.f32(), rv.f32(),
                                workspace.f32(), s, momentum, eps, stream);
  });
  return py::make_tuple(y.obj, mean.obj, invstd.obj);
}

static py::object inference_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj,
                                  py::handle rv_obj, float eps, const std::string&) {
  const char* op = "batch_norm_forward_inference";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  const BatchNormShape s = bn_shape(x, op);
  DeviceArray w = per_channel(w_obj, s.c, op, "weight"), b = per_channel(b_obj, s.c, op, "bias");
  DLCORE_CHECK(!rm_obj.is_none() && !rv_obj.is_none(), op, ": needs running_mean and running_var");
  DeviceArray rm = per_channel(rm_obj, s.c, op, "running_mean"), rv = per_channel(rv_obj, s.c, op, "running_var");
  check_batch_norm_eps(eps, op);
  check_device_running_var(rv, s.c, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  without_gil(
      [&] { batch_norm_forward_inference(x.f32(), w.f32(), b.f32(), rm.f32(), rv.f32(), y.f32(), s, eps, stream); });
  return y.obj;
}

static py::tuple backward_entry(py::handle dy_obj, py::handle x_obj, py::handle w_obj, py::handle mean_obj,
                                py::handle invstd_obj, const std::string&) {
  const char* op = "batch_norm_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32);
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  check_batch_norm_dy(dy.shape, x.shape, op);
  const BatchNormShape s = bn_shape(x, op);
  DeviceArray w = per_channel(w_obj, s.c, op, "weight");
  DeviceArray mean = per_channel(mean_obj, s.c, op, "mean"), invstd = per_channel(invstd_obj, s.c, op, "invstd");
  DLCORE_CHECK(mean.ptr != nullptr && invstd.ptr != nullptr, op, ": mean and invstd (from the forward) are required");
  cudaStream_t stream = current_stream();
  const bool affine = !w_obj.is_none();
  DeviceArray dx = device_empty(x.shape, DType::F32);
  DeviceArray dw = affine ? device_empty({s.c}, DType::F32) : DeviceArray{};
  DeviceArray db = affine ? device_empty({s.c}, DType::F32) : DeviceArray{};
  DeviceArray workspace = bn_workspace(s);
  without_gil([&] {
    batch_norm_backward(dy.f32(), x.f32(), w.f32(), mean.f32(), invstd.f32(), dx.f32(), dw.f32(), db.f32(),
                        workspace.f32(), s, stream);
  });
  return py::make_tuple(dx.obj, affine ? dw.obj : py::object(py::none()), affine ? db.obj : py::object(py::none()));
}

void init_norm(py::module_& m) {
  const auto backend = py::arg("backend") = "cuda";
  m.def("batch_norm_forward_training", &training_entry, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(), py::arg("momentum") = 0.1f,
        py::arg("eps") = 1e-5f, backend);
  m.def("batch_norm_forward_inference", &inference_entry, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("eps") = 1e-5f, backend);
  m.def("batch_norm_backward", &backward_entry, py::arg("dy"), py::arg("x"), py::arg("weight"), py::arg("mean"),
        py::arg("invstd"), backend);
}

}  // namespace cuda
}  // namespace dlcore
