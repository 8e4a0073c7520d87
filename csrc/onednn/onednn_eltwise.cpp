// Activations over oneDNN's eltwise and prelu primitives. Any shape: the
// tensor is viewed as 1-D (elementwise ops do not care about layout), so no
// reorders ever run. Backward from the output y (sigmoid, tanh) uses oneDNN's
// *_use_dst_for_bwd algorithms; the others differentiate at x.
#include <pybind11/numpy.h>

#include <cmath>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/eltwise/eltwise.h"

namespace dlcore {
namespace onednn {
namespace {

using dnnl::algorithm;

bool uses_dst(algorithm a) {
  return a == algorithm::eltwise_logistic_use_dst_for_bwd || a == algorithm::eltwise_tanh_use_dst_for_bwd;
}

dnnl::eltwise_forward::primitive_desc forward_pd(algorithm a, int64_t n, float alpha, dnnl::prop_kind prop,
                                                 float beta = 0.0f) {
  auto d = plain_desc({n});
  return {cpu_engine(), prop, a, d, d, alpha, beta, plan_attr()};
}

FloatArray eltwise_forward(const char* op, algorithm a, py::handle x_obj, float alpha, float beta = 0.0f) {
  FloatArray x = input_f32(x_obj, op, "x");
  FloatArray y = new_f32(shape_of(x));
  const int64_t n = x.size();
  if (n == 0) return y;
  auto plan = cached_plan(key_of(op, n, alpha, ",", beta, ",", int(a)), [&] {
    auto pd = forward_pd(a, n, alpha, dnnl::prop_kind::forward_inference, beta);
    return make_plan<decltype(pd), dnnl::eltwise_forward>(
        pd, {{DNNL_ARG_SRC, plain_desc({n}), false}, {DNNL_ARG_DST, plain_desc({n}), true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(plain_desc({n}), x.data())},
               {DNNL_ARG_DST, user_memory(plain_desc({n}), y.mutable_data())}});
  }
  return y;
}

// dx from dy and `data` (x, or y for the use_dst algorithms).
FloatArray eltwise_backward(const char* op, algorithm a, py::handle dy_obj, py::handle data_obj, const char* data_name,
                            float alpha) {
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray data = input_f32(data_obj, op, data_name);
  check_same_shape(shape_of(dy), shape_of(data), op, "dy", data_name);
  FloatArray dx = new_f32(shape_of(dy));
  const int64_t n = dy.size();
  if (n == 0) return dx;
  const int data_arg = uses_dst(a) ? DNNL_ARG_DST : DNNL_ARG_SRC;
  auto plan = cached_plan(key_of(op, n, alpha), [&] {
    auto hint = forward_pd(a, n, alpha, dnnl::prop_kind::forward_training);
    auto d = plain_desc({n});
    dnnl::eltwise_backward::primitive_desc pd(cpu_engine(), a, d, d, d, alpha, 0.0f, hint, plan_attr());
    return make_plan<decltype(pd), dnnl::eltwise_backward>(
        pd, {{DNNL_ARG_DIFF_DST, d, false}, {data_arg, d, false}, {DNNL_ARG_DIFF_SRC, d, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_DIFF_DST, user_memory(plain_desc({n}), dy.data())},
               {data_arg, user_memory(plain_desc({n}), data.data())},
               {DNNL_ARG_DIFF_SRC, user_memory(plain_desc({n}), dx.mutable_data())}});
  }
  return dx;
}

// --- PReLU: weight (C,) over axis 1, or (1,) shared --------------------------
// x is viewed as (N, C, inner) with the weight as (1, C, 1), or as (n,) with a
// (1,) weight, so any rank maps onto a 3-D or 1-D primitive.
struct PreluView {
  memory::desc x, w;
  std::string key;
};

// x and w passed check_prelu_weight (ops/eltwise/eltwise.h).
PreluView prelu_view(const FloatArray& x, const FloatArray& w) {
  const Shape xs = shape_of(x);
  const int64_t wn = w.shape(0);
  if (wn == 1 && !(xs.size() >= 2 && xs[1] == 1)) {
    return {plain_desc({int64_t(x.size())}), plain_desc({1}), cat("shared", x.size())};
  }
  int64_t inner = 1;
  for (size_t i = 2; i < xs.size(); ++i) inner *= xs[i];
  return {plain_desc({xs[0], wn, inner}), plain_desc({1, wn, 1}), cat(xs[0], ",", wn, ",", inner)};
}

dnnl::prelu_forward::primitive_desc prelu_pd(const PreluView& v, dnnl::prop_kind prop) {
  return {cpu_engine(), prop, v.x, v.w, v.x, plan_attr()};
}

FloatArray prelu_forward_entry(py::handle x_obj, py::handle w_obj, const std::string&) {
  const char* op = "prelu_forward";
  FloatArray x = input_f32(x_obj, op, "x");
  FloatArray w = input_f32(w_obj, op, "weight", 1);
  check_prelu_weight(shape_of(x), shape_of(w), op);
  FloatArray y = new_f32(shape_of(x));
  if (x.size() == 0) return y;
  PreluView v = prelu_view(x, w);
  auto plan = cached_plan(key_of(op, v.key), [&] {
    auto pd = prelu_pd(v, dnnl::prop_kind::forward_inference);
    return make_plan<decltype(pd), dnnl::prelu_forward>(
        pd, {{DNNL_ARG_SRC, v.x, false}, {DNNL_ARG_WEIGHTS, v.w, false}, {DNNL_ARG_DST, v.x, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(v.x, x.data())},
               {DNNL_ARG_WEIGHTS, user_memory(v.w, w.data())},
               {DNNL_ARG_DST, user_memory(v.x, y.mutable_data())}});
  }
  return y;
}

py::tuple prelu_backward_entry(py::handle dy_obj, py::handle x_obj, py::handle w_obj, const std::string&) {
  const char* op = "prelu_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray x = input_f32(x_obj, op, "x");
  FloatArray w = input_f32(w_obj, op, "weight", 1);
  check_same_shape(shape_of(dy), shape_of(x), op, "dy", "x");
  check_prelu_weight(shape_of(x), shape_of(w), op);
  FloatArray dx = new_f32(shape_of(x));
  FloatArray dw = new_f32(shape_of(w));
  if (x.size() == 0) {
    std::fill(dw.mutable_data(), dw.mutable_data() + dw.size(), 0.0f);
    return py::make_tuple(dx, dw);
  }
  PreluView v = prelu_view(x, w);
  auto plan = cached_plan(key_of(op, v.key), [&] {
    auto hint = prelu_pd(v, dnnl::prop_kind::forward_training);
    dnnl::prelu_backward::primitive_desc pd(cpu_engine(), v.x, v.w, v.x, v.w, v.x, hint, plan_attr());
    return make_plan<decltype(pd), dnnl::prelu_backward>(pd, {{DNNL_ARG_SRC, v.x, false},
                                                              {DNNL_ARG_WEIGHTS, v.w, false},
                                                              {DNNL_ARG_DIFF_DST, v.x, false},
                                                              {DNNL_ARG_DIFF_SRC, v.x, true},
                                                              {DNNL_ARG_DIFF_WEIGHTS, v.w, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(v.x, x.data())},
               {DNNL_ARG_WEIGHTS, user_memory(v.w, w.data())},
               {DNNL_ARG_DIFF_DST, user_memory(v.x, dy.data())},
               {DNNL_ARG_DIFF_SRC, user_memory(v.x, dx.mutable_data())},
               {DNNL_ARG_DIFF_WEIGHTS, user_memory(v.w, dw.mutable_data())}});
  }
  return py::make_tuple(dx, dw);
}

}  // namespace

void init_eltwise(py::module_& m) {
  using A = algorithm;
  const auto ob = py::arg("backend") = "onednn";
  m.def(
      "relu_forward",
      [](py::handle x, float slope, const std::string&) {
        // A documented difference (docs/KERNEL_API.md): with slope 0 oneDNN's
        // relu maps NaN to 0 (ours propagates it); +-inf agree.
        check_eltwise_param(slope, "relu_forward", "negative_slope");
        return eltwise_forward("relu_forward", A::eltwise_relu, x, slope);
      },
      py::arg("x"), py::arg("negative_slope") = 0.0f, ob);
  m.def(
      "relu_backward",
      [](py::handle dy, py::handle x, float slope, const std::string&) {
        check_eltwise_param(slope, "relu_backward", "negative_slope");
        return eltwise_backward("relu_backward", A::eltwise_relu, dy, x, "x", slope);
      },
      py::arg("dy"), py::arg("x"), py::arg("negative_slope") = 0.0f, ob);
  m.def(
      "sigmoid_forward",
      [](py::handle x, const std::string&) {
        return eltwise_forward("sigmoid_forward", A::eltwise_logistic_use_dst_for_bwd, x, 0.0f);
      },
      py::arg("x"), ob);
  m.def(
      "sigmoid_backward",
      [](py::handle dy, py::handle y, const std::string&) {
        return eltwise_backward("sigmoid_backward", A::eltwise_logistic_use_dst_for_bwd, dy, y, "y", 0.0f);
      },
      py::arg("dy"), py::arg("y"), ob);
  m.def(
      "tanh_forward",
      [](py::handle x, const std::string&) {
        return eltwise_forward("tanh_forward", A::eltwise_tanh_use_dst_for_bwd, x, 0.0f);
      },
      py::arg("x"), ob);
  m.def(
      "tanh_backward",
      [](py::handle dy, py::handle y, const std::string&) {
        return eltwise_backward("tanh_backward", A::eltwise_tanh_use_dst_for_bwd, dy, y, "y", 0.0f);
      },
      py::arg("dy"), py::arg("y"), ob);
  m.def(
      "elu_forward",
      [](py::handle x, float alpha, const std::string&) {
        check_eltwise_param(alpha, "elu_forward", "alpha");
        return eltwise_forward("elu_forward", A::eltwise_elu, x, alpha);
      },
      py::arg("x"), py::arg("alpha") = 1.0f, ob);
  m.def(
      "elu_backward",
      [](py::handle dy, py::handle x, float alpha, const std::string&) {
        check_eltwise_param(alpha, "elu_backward", "alpha");
        return eltwise_backward("elu_backward", A::eltwise_elu, dy, x, "x", alpha);
      },
      py::arg("dy"), py::arg("x"), py::arg("alpha") = 1.0f, ob);
  m.def(
      "abs_forward",
      [](py::handle x, const std::string&) { return eltwise_forward("abs_forward", A::eltwise_abs, x, 0.0f); },
      py::arg("x"), ob);
  m.def(
      "abs_backward",
      [](py::handle dy, py::handle x, const std::string&) {
        return eltwise_backward("abs_backward", A::eltwise_abs, dy, x, "x", 0.0f);
      },
      py::arg("dy"), py::arg("x"), ob);
  m.def("prelu_forward", &prelu_forward_entry, py::arg("x"), py::arg("weight"), ob);
  m.def("prelu_backward", &prelu_backward_entry, py::arg("dy"), py::arg("x"), py::arg("weight"), ob);
  // maxout has no oneDNN primitive: not defined here, so module_for declines it.
}

}  // namespace onednn
}  // namespace dlcore
