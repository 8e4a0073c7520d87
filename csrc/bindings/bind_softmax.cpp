// dlcore._C softmax family: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>

#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/typed_array.h"
#include "ops/softmax/softmax.h"

namespace py = pybind11;

namespace dlcore {
namespace {

using TargetArray = py::array_t<int64_t, py::array::c_style>;

const char* op_name(SoftmaxOp op) {
  static const char* const names[] = {"softmax_forward",      "log_softmax_forward",   "softmax_backward",
                                      "log_softmax_backward", "cross_entropy_forward", "cross_entropy_backward"};
  return names[int(op)];
}

void run(const SoftmaxArgs& a, const std::string& backend) {
  const auto& impl = softmax_registry(a.op).select(a, backend);
  py::gil_scoped_release nogil;
  if (a.outer * a.len * a.inner > 0) impl.run(a);
}

FloatArray forward(SoftmaxOp op, py::handle x_obj, int64_t axis, const std::string& backend) {
  const char* name = op_name(op);
  FloatArray x = input_f32(x_obj, name, "x");
  SoftmaxArgs a;
  a.op = op;
  softmax_view_around_axis(shape_of(x), axis, &a.outer, &a.len, &a.inner, name);
  FloatArray y = new_f32(shape_of(x));
  a.in = x.data();
  a.out = y.mutable_data();
  run(a, backend);
  return y;
}

FloatArray backward(SoftmaxOp op, py::handle dy_obj, py::handle y_obj, int64_t axis, const std::string& backend) {
  const char* name = op_name(op);
  FloatArray dy = input_f32(dy_obj, name, "dy");
  FloatArray y = input_f32(y_obj, name, "y");
  check_softmax_backward_shapes(shape_of(dy), shape_of(y), name);
  SoftmaxArgs a;
  a.op = op;
  softmax_view_around_axis(shape_of(y), axis, &a.outer, &a.len, &a.inner, name);
  FloatArray dx = new_f32(shape_of(y));
  a.in = y.data();
  a.dy = dy.data();
  a.out = dx.mutable_data();
  run(a, backend);
  return dx;
}

// Shared checks of the cross-entropy pair: (N, C) float32, int64 targets in [0, C).
TargetArray checked_targets(py::handle t_obj, int64_t n, int64_t c, float ls, const char* op) {
  DLCORE_CHECK(c > 0 && n > 0, op, ": need at least one sample and one class, got (", n, ", ", c, ")");
  TargetArray t = input_typed<int64_t>(t_obj, op, "target", 1);
  DLCORE_CHECK(t.shape(0) == n, op, ": target has shape ", shape_str(shape_of(t)), ", expected (", n, ",)");
  const int64_t* tp = t.data();
  for (int64_t i = 0; i < n; ++i)
    DLCORE_CHECK(tp[i] >= 0 && tp[i] < c, op, ": target[", i, "] = ", tp[i], " is outside [0, ", c, ")");
  DLCORE_CHECK(ls >= 0.0f && ls <= 1.0f, op, ": label_smoothing must be in [0, 1], got ", ls);
  return t;
}

py::tuple cross_entropy_forward(py::handle logits_obj, py::handle t_obj, float ls, const std::string& backend) {
  const char* op = "cross_entropy_forward";
  FloatArray logits = input_f32(logits_obj, op, "logits", 2);
  const int64_t n = logits.shape(0), c = logits.shape(1);
  TargetArray t = checked_targets(t_obj, n, c, ls, op);
  FloatArray lp = new_f32({n, c}), loss = new_f32({n});
  SoftmaxArgs a;
  a.op = SoftmaxOp::cross_entropy_forward;
  a.outer = n;
  a.len = c;
  a.in = logits.data();
  a.out = lp.mutable_data();
  a.target = t.data();
  a.loss = loss.mutable_data();
  a.label_smoothing = ls;
  run(a, backend);
  return py::make_tuple(loss, lp);
}

FloatArray cross_entropy_backward(py::handle dloss_obj, py::handle lp_obj, py::handle t_obj, float ls,
                                  const std::string& backend) {
  const char* op = "cross_entropy_backward";
  FloatArray lp = input_f32(lp_obj, op, "log_probs", 2);
  const int64_t n = lp.shape(0), c = lp.shape(1);
  FloatArray dloss = input_f32(dloss_obj, op, "dloss", 1);
  DLCORE_CHECK(dloss.shape(0) == n, op, ": dloss has shape ", shape_str(shape_of(dloss)), ", expected (", n,
               ",) for log_probs ", shape_str(shape_of(lp)));
  TargetArray t = checked_targets(t_obj, n, c, ls, op);
  FloatArray dlogits = new_f32({n, c});
  SoftmaxArgs a;
  a.op = SoftmaxOp::cross_entropy_backward;
  a.outer = n;
  a.len = c;
  a.in = lp.data();
  a.out = dlogits.mutable_data();
  a.target = t.data();
  a.dloss = dloss.data();
  a.label_smoothing = ls;
  run(a, backend);
  return dlogits;
}

}  // namespace

void init_softmax(py::module_& m) {
  m.def(
      "softmax_forward",
      [](py::handle x, int64_t axis, const std::string& b) { return forward(SoftmaxOp::softmax_forward, x, axis, b); },
      py::arg("x"), py::arg("axis") = -1, py::arg("backend") = "auto");
  m.def(
      "log_softmax_forward",
      [](py::handle x, int64_t axis, const std::string& b) {
        return forward(SoftmaxOp::log_softmax_forward, x, axis, b);
      },
      py::arg("x"), py::arg("axis") = -1, py::arg("backend") = "auto");
  m.def(
      "softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string& b) {
        return backward(SoftmaxOp::softmax_backward, dy, y, axis, b);
      },
      py::arg("dy"), py::arg("y"), py::arg("axis") = -1, py::arg("backend") = "auto");
  m.def(
      "log_softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string& b) {
        return backward(SoftmaxOp::log_softmax_backward, dy, y, axis, b);
      },
      py::arg("dy"), py::arg("y"), py::arg("axis") = -1, py::arg("backend") = "auto");
  m.def("cross_entropy_forward", &cross_entropy_forward, py::arg("logits"), py::arg("target"),
        py::arg("label_smoothing") = 0.0f, py::arg("backend") = "auto");
  m.def("cross_entropy_backward", &cross_entropy_backward, py::arg("dloss"), py::arg("log_probs"), py::arg("target"),
        py::arg("label_smoothing") = 0.0f, py::arg("backend") = "auto");
}

}  // namespace dlcore
