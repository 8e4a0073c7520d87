// softmax / log-softmax forward and backward over oneDNN's softmax primitive.
// Any rank: x is viewed as (outer, C, inner) with the softmax over C (axis 1),
// which is the same memory as the caller's C-contiguous array, so no reorders.
// Backward takes the forward output y (probabilities, or log-probabilities for
// log_softmax), as oneDNN's softmax backward does.
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/softmax/softmax.h"

namespace dlcore {
namespace onednn {
namespace {

struct SoftmaxView {
  memory::desc d;
  std::string key;
};

SoftmaxView softmax_view(const char* op, const FloatArray& x, int64_t axis) {
  int64_t outer, c, inner;
  softmax_view_around_axis(shape_of(x), axis, &outer, &c, &inner, op);
  if (inner == 1) return {plain_desc({outer, c}), cat(outer, ",", c)};
  return {plain_desc({outer, c, inner}), cat(outer, ",", c, ",", inner)};
}

dnnl::softmax_forward::primitive_desc forward_pd(const SoftmaxView& v, dnnl::algorithm a, dnnl::prop_kind prop) {
  return {cpu_engine(), prop, a, v.d, v.d, 1, plan_attr()};
}

FloatArray forward(const char* op, dnnl::algorithm a, py::handle x_obj, int64_t axis) {
  FloatArray x = input_f32(x_obj, op, "x");
  SoftmaxView v = softmax_view(op, x, axis);
  FloatArray y = new_f32(shape_of(x));
  if (x.size() == 0) return y;
  auto plan = cached_plan(key_of(op, v.key), [&] {
    auto pd = forward_pd(v, a, dnnl::prop_kind::forward_inference);
    return make_plan<decltype(pd), dnnl::softmax_forward>(pd, {{DNNL_ARG_SRC, v.d, false}, {DNNL_ARG_DST, v.d, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(v.d, x.data())}, {DNNL_ARG_DST, user_memory(v.d, y.mutable_data())}});
  }
  return y;
}

FloatArray backward(const char* op, dnnl::algorithm a, py::handle dy_obj, py::handle y_obj, int64_t axis) {
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray y = input_f32(y_obj, op, "y");
  check_softmax_backward_shapes(shape_of(dy), shape_of(y), op);
  SoftmaxView v = softmax_view(op, y, axis);
  FloatArray dx = new_f32(shape_of(y));
  if (y.size() == 0) return dx;
  auto plan = cached_plan(key_of(op, v.key), [&] {
    auto hint = forward_pd(v, a, dnnl::prop_kind::forward_training);
    dnnl::softmax_backward::primitive_desc pd(cpu_engine(), a, v.d, v.d, v.d, 1, hint, plan_attr());
    return make_plan<decltype(pd), dnnl::softmax_backward>(
        pd, {{DNNL_ARG_DST, v.d, false}, {DNNL_ARG_DIFF_DST, v.d, false}, {DNNL_ARG_DIFF_SRC, v.d, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_DST, user_memory(v.d, y.data())},
               {DNNL_ARG_DIFF_DST, user_memory(v.d, dy.data())},
               {DNNL_ARG_DIFF_SRC, user_memory(v.d, dx.mutable_data())}});
  }
  return dx;
}

}  // namespace

void init_softmax(py::module_& m) {
  using A = dnnl::algorithm;
  const auto ob = py::arg("backend") = "onednn";
  m.def(
      "softmax_forward",
      [](py::handle x, int64_t axis, const std::string&) {
        return forward("softmax_forward", A::softmax_accurate, x, axis);
      },
      py::arg("x"), py::arg("axis") = -1, ob);
  m.def(
      "softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string&) {
        return backward("softmax_backward", A::softmax_accurate, dy, y, axis);
      },
      py::arg("dy"), py::arg("y"), py::arg("axis") = -1, ob);
  m.def(
      "log_softmax_forward",
      [](py::handle x, int64_t axis, const std::string&) {
        return forward("log_softmax_forward", A::softmax_log, x, axis);
      },
      py::arg("x"), py::arg("axis") = -1, ob);
  m.def(
      "log_softmax_backward",
      [](py::handle dy, py::handle y, int64_t axis, const std::string&) {
        return backward("log_softmax_backward", A::softmax_log, dy, y, axis);
      },
      py::arg("dy"), py::arg("y"), py::arg("axis") = -1, ob);
  // cross_entropy_* have no oneDNN primitive: not defined here (module_for declines).
}

}  // namespace onednn
}  // namespace dlcore
