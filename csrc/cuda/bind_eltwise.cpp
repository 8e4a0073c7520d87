// dlcore._cuda activations: relu (leaky), prelu, sigmoid, tanh, elu, abs.
#include <pybind11/pybind11.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/eltwise/eltwise.h"

namespace dlcore {
namespace cuda {

// y = f(x)
static py::object forward(const char* op, Act act, py::handle x_obj, float alpha) {
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  DeviceArray y = device_empty(x.shape, DType::F32);
  cudaStream_t stream = current_stream();
  {
    py::gil_scoped_release nogil;
    act_forward(act, x.f32(), y.f32(), x.numel(), alpha, stream);
  }
  return y.obj;
}

// dx = dy f'(.), from x or y (`in_name` says which)
static py::object backward(const char* op, Act act, py::handle dy_obj, py::handle in_obj, const char* in_name,
                           float alpha) {
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32);
  DeviceArray in = device_input(in_obj, op, in_name, DType::F32);
  check_same_shape(dy.shape, in.shape, op, "dy", in_name);
  DeviceArray dx = device_empty(dy.shape, DType::F32);
  cudaStream_t stream = current_stream();
  {
    py::gil_scoped_release nogil;
    act_backward(act, dy.f32(), in.f32(), dx.f32(), dy.numel(), alpha, stream);
  }
  return dx.obj;
}

// x viewed as (outer, channels, inner) around axis 1; a (1,) weight is shared by all.
struct PreluView {
  int64_t outer, channels, inner;
};
static PreluView prelu_view(const DeviceArray& x, const DeviceArray& w, const char* op) {
  check_prelu_weight(x.shape, w.shape, op);
  const int64_t wc = w.shape[0];
  if (wc == 1) return {1, 1, x.numel()};
  int64_t inner = 1;
  for (int i = 2; i < x.ndim(); ++i) inner *= x.shape[i];
  return {x.shape[0], wc, inner};
}

static py::object prelu_forward_entry(py::handle x_obj, py::handle w_obj, const std::string&) {
  const char* op = "prelu_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  DeviceArray w = device_input(w_obj, op, "weight", DType::F32, 1);
  const PreluView v = prelu_view(x, w, op);
  DeviceArray y = device_empty(x.shape, DType::F32);
  cudaStream_t stream = current_stream();
  {
    py::gil_scoped_release nogil;
    prelu_forward(x.f32(), w.f32(), y.f32(), v.outer, v.channels, v.inner, stream);
  }
  return y.obj;
}

static py::tuple prelu_backward_entry(py::handle dy_obj, py::handle x_obj, py::handle w_obj, const std::string&) {
  const char* op = "prelu_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32);
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  DeviceArray w = device_input(w_obj, op, "weight", DType::F32, 1);
  check_same_shape(dy.shape, x.shape, op, "dy", "x");
  const PreluView v = prelu_view(x, w, op);
  cudaStream_t stream = current_stream();  // first: it selects the device the slice count is sized for
  DeviceArray dx = device_empty(x.shape, DType::F32);
  DeviceArray dw = device_empty(w.shape, DType::F32);
  DeviceArray partial = device_empty({v.channels * prelu_backward_slices(v.outer, v.channels, v.inner)}, DType::F32);
  {
    py::gil_scoped_release nogil;
    prelu_backward(dy.f32(), x.f32(), w.f32(), dx.f32(), dw.f32(), partial.f32(), v.outer, v.channels, v.inner, stream);
  }
  return py::make_tuple(dx.obj, dw.obj);
}

void init_eltwise(py::module_& m) {
  const auto x = py::arg("x"), dy = py::arg("dy"), y = py::arg("y");
  const auto backend = py::arg("backend") = "cuda";
  m.def(
      "relu_forward",
      [](py::handle x, float slope, const std::string&) {
        check_eltwise_param(slope, "relu_forward", "negative_slope");
        return forward("relu_forward", Act::Relu, x, slope);
      },
      x, py::arg("negative_slope") = 0.0f, backend);
  m.def(
      "relu_backward",
      [](py::handle dy, py::handle x, float slope, const std::string&) {
        check_eltwise_param(slope, "relu_backward", "negative_slope");
        return backward("relu_backward", Act::Relu, dy, x, "x", slope);
      },
      dy, x, py::arg("negative_slope") = 0.0f, backend);
  m.def(
      "sigmoid_forward",
      [](py::handle x, const std::string&) { return forward("sigmoid_forward", Act::Sigmoid, x, 0.0f); }, x, backend);
  m.def(
      "sigmoid_backward",
      [](py::handle dy, py::handle y, const std::string&) {
        return backward("sigmoid_backward", Act::Sigmoid, dy, y, "y", 0.0f);
      },
      dy, y, backend);
  m.def(
      "tanh_forward", [](py::handle x, const std::string&) { return forward("tanh_forward", Act::Tanh, x, 0.0f); }, x,
      backend);
  m.def(
      "tanh_backward",
      [](py::handle dy, py::handle y, const std::string&) {
        return backward("tanh_backward", Act::Tanh, dy, y, "y", 0.0f);
      },
      dy, y, backend);
  m.def(
      "elu_forward",
      [](py::handle x, float alpha, const std::string&) {
        check_eltwise_param(alpha, "elu_forward", "alpha");
        return forward("elu_forward", Act::Elu, x, alpha);
      },
      x, py::arg("alpha") = 1.0f, backend);
  m.def(
      "elu_backward",
      [](py::handle dy, py::handle x, float alpha, const std::string&) {
        check_eltwise_param(alpha, "elu_backward", "alpha");
        return backward("elu_backward", Act::Elu, dy, x, "x", alpha);
      },
      dy, x, py::arg("alpha") = 1.0f, backend);
  m.def(
      "abs_forward", [](py::handle x, const std::string&) { return forward("abs_forward", Act::Abs, x, 0.0f); }, x,
      backend);
  m.def(
      "abs_backward",
      [](py::handle dy, py::handle x, const std::string&) {
        return backward("abs_backward", Act::Abs, dy, x, "x", 0.0f);
      },
      dy, x, backend);
  m.def("prelu_forward", &prelu_forward_entry, x, py::arg("weight"), backend);
  m.def("prelu_backward", &prelu_backward_entry, dy, x, py::arg("weight"), backend);
}

}  // namespace cuda
}  // namespace dlcore
