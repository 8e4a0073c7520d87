// dlcore._cuda softmax / log-softmax over any axis, and fused softmax cross-entropy.
#include <pybind11/pybind11.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/softmax/softmax.h"

namespace dlcore {
namespace cuda {

// x viewed as (outer, c, inner) around `axis` (ops/softmax/softmax.h: the family's one rule).
struct AxisView {
  int64_t outer = 1, c = 1, inner = 1;
};
static AxisView axis_view(const DeviceArray& x, int64_t axis, const char* op) {
  AxisView v;
  softmax_view_around_axis(x.shape, axis, &v.outer, &v.c, &v.inner, op);
  return v;
}

static py::object softmax_forward_entry(const char* op, bool log, py::handle x_obj, int64_t axis) {
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  const AxisView v = axis_view(x, axis, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  without_gil([&] { softmax_forward(x.f32(), y.f32(), v.outer, v.c, v.inner, log, stream); });
  return y.obj;
}

static py::object softmax_backward_entry(const char* op, bool log, py::handle dy_obj, py::handle y_obj, int64_t axis) {
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32);
  DeviceArray y = device_input(y_obj, op, "y", DType::F32);
  check_softmax_backward_shapes(dy.shape, y.shape, op);
  const AxisView v = axis_view(y, axis, op);
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(y.shape, DType::F32);
  without_gil([&] { softmax_backward(dy.f32(), y.f32(), dx.f32(), v.outer, v.c, v.inner, log, stream); });
  return dx.obj;
}

static void check_smoothing(float eps, const char* op) {
  DLCORE_CHECK(eps >= 0.0f && eps <= 1.0f, op, ": label_smoothing must be in [0, 1], got ", eps);
}

static DeviceArray targets_for(py::handle t_obj, const DeviceArray& logits, const char* op) {
  DeviceArray target = device_input(t_obj, op, "target", DType::I64, 1);
  DLCORE_CHECK(target.shape[0] == logits.shape[0], op, ": target has shape ", shape_str(target.shape),
               " but logits/log_probs have shape ", shape_str(logits.shape), " (one class index per row)");
  return target;
}

static py::tuple cross_entropy_forward_entry(py::handle logits_obj, py::handle t_obj, float smoothing,
                                             const std::string&) {
  const char* op = "cross_entropy_forward";
  DeviceArray logits = device_input(logits_obj, op, "logits", DType::F32, 2);
  DeviceArray target = targets_for(t_obj, logits, op);
  check_smoothing(smoothing, op);
  const int64_t n = logits.shape[0], c = logits.shape[1];
  DLCORE_CHECK(c > 0 || n == 0, op, ": logits of shape ", shape_str(logits.shape), " have no classes");
  cudaStream_t stream = current_stream();
  // Targets live on the GPU: counting the bad ones costs one small kernel and a stream sync.
  DeviceArray scratch = device_empty({1}, DType::I32);
  int64_t bad = 0;
  without_gil([&] { bad = count_bad_targets(target.i64(), n, c, scratch.i32(), stream); });
  DLCORE_CHECK(bad == 0, op, ": ", bad, " of ", n, " targets are outside [0, ", c, ")");
  DeviceArray loss = device_empty({n}, DType::F32);
  DeviceArray log_probs = device_empty(logits.shape, DType::F32);
  without_gil(
      [&] { cross_entropy_forward(logits.f32(), target.i64(), loss.f32(), log_probs.f32(), n, c, smoothing, stream); });
  return py::make_tuple(loss.obj, log_probs.obj);
}

static py::object cross_entropy_backward_entry(py::handle dloss_obj, py::handle lp_obj, py::handle t_obj,
                                               float smoothing, const std::string&) {
  const char* op = "cross_entropy_backward";
  DeviceArray log_probs = device_input(lp_obj, op, "log_probs", DType::F32, 2);
  DeviceArray dloss = device_input(dloss_obj, op, "dloss", DType::F32, 1);
  DeviceArray target = targets_for(t_obj, log_probs, op);
  check_smoothing(smoothing, op);
  DLCORE_CHECK(dloss.shape[0] == log_probs.shape[0], op, ": dloss has shape ", shape_str(dloss.shape),
               " but log_probs has shape ", shape_str(log_probs.shape));
  cudaStream_t stream = current_stream();
  DeviceArray dlogits = device_empty(log_probs.shape, DType::F32);
  without_gil([&] {
    cross_entropy_backward(dloss.f32(), log_probs.f32(), target.i64(), dlogits.f32(), log_probs.shape[0],
                           log_probs.shape[1], smoothing, stream);
  });
  return dlogits.obj;
}

void init_softmax(py::module_& m) {
  const auto backend = py::arg("backend") = "cuda";
  const auto axis = py::arg("axis") = -1;
  m.def(
      "softmax_forward",
      [](py::handle x, int64_t axis, const std::string&) {
        return softmax_forward_entry("softmax_forward", false, x, axis);
      },
      py::arg("x"), axis, backend);
  m.def(
      "log_softmax_forward",
      [](py::handle x, int64_t axis, const std::string&) {
        return softmax_forward_entry("log_softmax_forward", true, x, axis);
      },
      py::arg("x"), axis, backend);
  m.def(
      "softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string&) {
        return softmax_backward_entry("softmax_backward", false, dy, y, axis);
      },
      py::arg("dy"), py::arg("y"), axis, backend);
  m.def(
      "log_softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string&) {
        return softmax_backward_entry("log_softmax_backward", true, dy, y, axis);
      },
      py::arg("dy"), py::arg("y"), axis, backend);
  m.def("cross_entropy_forward", &cross_entropy_forward_entry, py::arg("logits"), py::arg("target"),
        py::arg("label_smoothing") = 0.0f, backend);
  m.def("cross_entropy_backward", &cross_entropy_backward_entry, py::arg("dloss"), py::arg("log_probs"),
        py::arg("target"), py::arg("label_smoothing") = 0.0f, backend);
}

}  // namespace cuda
}  // namespace dlcore
