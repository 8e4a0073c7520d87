// dlcore._C batch normalization: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>

#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/typed_array.h"
#include "ops/norm/norm.h"

namespace py = pybind11;

namespace dlcore {
namespace {

// x (N, C) or (N, C, H, W) -> the (n, c, s) view; nothing may be empty.
BatchNormArgs view_of(const FloatArray& x, const char* op) {
  BatchNormArgs a;
  batch_norm_view(shape_of(x), &a.n, &a.c, &a.s, op);
  a.x = x.data();
  return a;
}

// An optional per-channel float32 (C,) array; returns nullptr for None.
const float* channel_param(py::handle obj, FloatArray* keep, int64_t c, const char* op, const char* name) {
  if (obj.is_none()) return nullptr;
  *keep = input_f32(obj, op, name, 1);
  check_batch_norm_channels(shape_of(*keep), c, op, name);
  return keep->data();
}

py::tuple forward_training(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj, py::handle rv_obj,
                           float momentum, float eps, const std::string& backend) {
  const char* op = "batch_norm_forward_training";
  FloatArray x = input_f32(x_obj, op, "x");
  BatchNormArgs a = view_of(x, op);
  const int64_t count = a.n * a.s;
  check_batch_norm_training(shape_of(x), count, momentum, !rm_obj.is_none(), !rv_obj.is_none(), op);
  check_batch_norm_eps(eps, op);
  FloatArray w, b, rm, rv;
  a.weight = channel_param(w_obj, &w, a.c, op, "weight");
  a.bias = channel_param(b_obj, &b, a.c, op, "bias");
  if (!rm_obj.is_none()) {
    channel_param(rm_obj, &rm, a.c, op, "running_mean");
    channel_param(rv_obj, &rv, a.c, op, "running_var");
    DLCORE_CHECK(rm.writeable(), op, ": running_mean is read-only (it is updated in place)");
    DLCORE_CHECK(rv.writeable(), op, ": running_var is read-only (it is updated in place)");
  }
  FloatArray y = new_f32(shape_of(x)), mean = new_f32({a.c}), invstd = new_f32({a.c}), var = new_f32({a.c});
  a.op = BatchNormOp::forward_training;
  a.eps = eps;
  a.mean = mean.mutable_data();
  a.invstd = invstd.mutable_data();
  a.var = var.mutable_data();
  a.y = y.mutable_data();
  const auto& impl = batch_norm_registry(a.op).select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  if (!rm_obj.is_none()) {
    // r = (1 - momentum) r + momentum stat; running_var tracks the unbiased variance.
    float* rmp = rm.mutable_data();
    float* rvp = rv.mutable_data();
    const double unbias = double(count) / double(count - 1);
    for (int64_t c = 0; c < a.c; ++c) {
      rmp[c] = (1.0f - momentum) * rmp[c] + momentum * a.mean[c];
      rvp[c] = float((1.0 - momentum) * rvp[c] + momentum * a.var[c] * unbias);
    }
  }
  return py::make_tuple(y, mean, invstd);
}

FloatArray forward_inference(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj, py::handle rv_obj,
                             float eps, const std::string& backend) {
  const char* op = "batch_norm_forward_inference";
  FloatArray x = input_f32(x_obj, op, "x");
  BatchNormArgs a = view_of(x, op);
  check_batch_norm_eps(eps, op);
  FloatArray w, b, rm, rv;
  a.weight = channel_param(w_obj, &w, a.c, op, "weight");
  a.bias = channel_param(b_obj, &b, a.c, op, "bias");
  DLCORE_CHECK(!rm_obj.is_none() && !rv_obj.is_none(), op, ": running_mean and running_var are required");
  a.running_mean = channel_param(rm_obj, &rm, a.c, op, "running_mean");
  a.running_var = channel_param(rv_obj, &rv, a.c, op, "running_var");
  check_running_var(a.running_var, a.c, op);
  FloatArray y = new_f32(shape_of(x));
  a.op = BatchNormOp::forward_inference;
  a.eps = eps;
  a.y = y.mutable_data();
  const auto& impl = batch_norm_registry(a.op).select(a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return y;
}

py::tuple backward(py::handle dy_obj, py::handle x_obj, py::handle w_obj, py::handle mean_obj, py::handle invstd_obj,
                   const std::string& backend) {
  const char* op = "batch_norm_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray x = input_f32(x_obj, op, "x");
  BatchNormArgs a = view_of(x, op);
  check_batch_norm_dy(shape_of(dy), shape_of(x), op);
  FloatArray w, mean, invstd;
  a.weight = channel_param(w_obj, &w, a.c, op, "weight");
  DLCORE_CHECK(!mean_obj.is_none() && !invstd_obj.is_none(), op,
               ": mean and invstd (from the forward pass) are required");
  a.mean = const_cast<float*>(channel_param(mean_obj, &mean, a.c, op, "mean"));
  a.invstd = const_cast<float*>(channel_param(invstd_obj, &invstd, a.c, op, "invstd"));
  FloatArray dx = new_f32(shape_of(x));
  py::object dw = py::none(), db = py::none();
  a.op = BatchNormOp::backward;
  a.dy = dy.data();
  a.dx = dx.mutable_data();
  if (a.weight) {
    FloatArray dwa = new_f32({a.c}), dba = new_f32({a.c});
    a.dweight = dwa.mutable_data();
    a.dbias = dba.mutable_data();
    dw = dwa;
    db = dba;
  }
  const auto& impl = batch_norm_registry(a.op).select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(dx, dw, db);
}

}  // namespace

void init_norm(py::module_& m) {
  m.def("batch_norm_forward_training", &forward_training, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(), py::arg("momentum") = 0.1f,
        py::arg("eps") = 1e-5f, py::arg("backend") = "auto");
  m.def("batch_norm_forward_inference", &forward_inference, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("eps") = 1e-5f, py::arg("backend") = "auto");
  m.def("batch_norm_backward", &backward, py::arg("dy"), py::arg("x"), py::arg("weight"), py::arg("mean"),
        py::arg("invstd"), py::arg("backend") = "auto");
}

}  // namespace dlcore
