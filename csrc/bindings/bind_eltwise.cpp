// dlcore._C activations: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/typed_array.h"
#include "core/checked.h"
#include "ops/eltwise/eltwise.h"

namespace py = pybind11;

namespace dlcore {
namespace {

using IntArray = py::array_t<int32_t, py::array::c_style>;

// out = f(a) or f(a, b) for the element-wise op; b (when used) must match a's shape.
FloatArray run_map(EltwiseOp op, py::handle a_obj, const char* a_name, py::handle b_obj, const char* b_name,
                   float alpha, const std::string& backend) {
  const char* name = eltwise_op_name(op);
  FloatArray a = input_f32(a_obj, name, a_name);
  FloatArray b;
  if (b_name) {
    b = input_f32(b_obj, name, b_name);
    check_same_shape(shape_of(a), shape_of(b), name, a_name, b_name);
  }
  FloatArray out = new_f32(shape_of(a));
  EltwiseArgs e;
  e.op = op;
  e.n = a.size();
  e.a = a.data();
  e.b = b_name ? b.data() : nullptr;
  e.out = out.mutable_data();
  e.alpha = alpha;
  const auto& impl = eltwise_registry(op).select(e, backend);
  py::gil_scoped_release nogil;
  impl.run(e);
  return out;
}

// x (N, C, ...) with weight (C,), or any x with weight (1,).
PreluArgs prelu_view(const FloatArray& x, const FloatArray& w, const char* op) {
  const Shape xs = shape_of(x);
  check_prelu_weight(xs, shape_of(w), op);
  const int64_t c = w.shape(0);
  PreluArgs p;
  if (c == 1) {
    p.outer = 1;
    p.channels = 1;
    p.inner = x.size();
  } else {
    p.outer = xs[0];
    p.channels = c;
    p.inner = dims_product(xs, 2, xs.size());
  }
  p.x = x.data();
  p.w = w.data();
  return p;
}

FloatArray prelu_forward(py::handle x_obj, py::handle w_obj, const std::string& backend) {
  const char* op = "prelu_forward";
  FloatArray x = input_f32(x_obj, op, "x");
  FloatArray w = input_f32(w_obj, op, "weight", 1);
  PreluArgs p = prelu_view(x, w, op);
  if (x.size() == 0) p.outer = 0;  // no work: else (outer * channels) empty planes, 5 * 2^30 for (2^30, 5, 0)
  FloatArray y = new_f32(shape_of(x));
  p.out = y.mutable_data();
  const auto& impl = prelu_forward_registry().select(p, backend);
  py::gil_scoped_release nogil;
  impl.run(p);
  return y;
}

py::tuple prelu_backward(py::handle dy_obj, py::handle x_obj, py::handle w_obj, const std::string& backend) {
  const char* op = "prelu_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray x = input_f32(x_obj, op, "x");
  FloatArray w = input_f32(w_obj, op, "weight", 1);
  check_same_shape(shape_of(dy), shape_of(x), op, "dy", "x");
  PreluArgs p = prelu_view(x, w, op);
  FloatArray dx = new_f32(shape_of(x));
  FloatArray dw = new_f32(shape_of(w));
  p.dy = dy.data();
  p.out = dx.mutable_data();
  p.dw = dw.mutable_data();
  const auto& impl = prelu_backward_registry().select(p, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(p);
  }
  return py::make_tuple(dx, dw);
}

py::tuple maxout_forward(py::handle x_obj, int64_t pool, const std::string& backend) {
  const char* op = "maxout_forward";
  FloatArray x = input_f32(x_obj, op, "x");
  Shape xs = shape_of(x);
  DLCORE_CHECK(xs.size() >= 2, op, ": x must have at least 2 dimensions (N, C, ...), got ", shape_str(xs));
  DLCORE_CHECK(pool >= 1, op, ": pool_size must be >= 1, got ", pool);
  DLCORE_CHECK(xs[1] % pool == 0, op, ": channels ", xs[1], " of x ", shape_str(xs), " are not divisible by pool_size ",
               pool);
  Shape ys = xs;
  ys[1] = xs[1] / pool;
  FloatArray y = new_f32(ys);
  IntArray idx(std::vector<py::ssize_t>(ys.begin(), ys.end()));
  MaxoutArgs m;
  m.outer = xs[0];
  m.groups = ys[1];
  m.pool = pool;
  m.inner = dims_product(xs, 2, xs.size());
  if (x.size() == 0) m.outer = 0;  // no work: else (outer * groups) empty planes, 2^40 of them for (2^40, 2, 0)
  m.x = x.data();
  m.y = y.mutable_data();
  m.idx = idx.mutable_data();
  const auto& impl = maxout_forward_registry().select(m, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(m);
  }
  return py::make_tuple(y, idx);
}

FloatArray maxout_backward(py::handle dy_obj, py::handle idx_obj, int64_t pool, const std::string& backend) {
  const char* op = "maxout_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  IntArray idx = input_typed<int32_t>(idx_obj, op, "indices");
  Shape ys = shape_of(dy);
  DLCORE_CHECK(ys.size() >= 2, op, ": dy must have at least 2 dimensions (N, C/pool_size, ...), got ", shape_str(ys));
  DLCORE_CHECK(pool >= 1, op, ": pool_size must be >= 1, got ", pool);
  DLCORE_CHECK(shape_of(idx) == ys, op, ": indices ", shape_str(shape_of(idx)), " and dy ", shape_str(ys),
               " must have the same shape");
  const int32_t* ip = idx.data();
  for (int64_t i = 0; i < idx.size(); ++i)
    DLCORE_CHECK(ip[i] >= 0 && ip[i] < pool, op, ": indices[", i, "] = ", ip[i], " is outside [0, ", pool, ")");
  Shape xs = ys;
  xs[1] = checked_mul(ys[1], pool, op, "the input channels C/pool_size * pool_size");
  check_numel(xs, op, "dx");
  FloatArray dx = new_f32(xs);
  MaxoutArgs m;
  m.outer = ys[0];
  m.groups = ys[1];
  m.pool = pool;
  m.inner = dims_product(ys, 2, ys.size());
  if (dy.size() == 0) m.outer = 0;  // no work (as in maxout_forward)
  m.dy = dy.data();
  m.idx = const_cast<int32_t*>(ip);
  m.dx = dx.mutable_data();
  const auto& impl = maxout_backward_registry().select(m, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(m);
  }
  return dx;
}

}  // namespace

void init_eltwise(py::module_& m) {
  auto unary = [&m](const char* name, EltwiseOp op) {
    m.def(
        name,
        [op](py::handle x, const std::string& backend) {
          return run_map(op, x, "x", py::none(), nullptr, 0.0f, backend);
        },
        py::arg("x"), py::arg("backend") = "auto");
  };
  auto backward = [&m](const char* name, EltwiseOp op, const char* second) {
    m.def(
        name,
        [op, second](py::handle dy, py::handle b, const std::string& backend) {
          return run_map(op, dy, "dy", b, second, 0.0f, backend);
        },
        py::arg("dy"), py::arg(second), py::arg("backend") = "auto");
  };
  m.def(
      "relu_forward",
      [](py::handle x, float slope, const std::string& backend) {
        check_eltwise_param(slope, "relu_forward", "negative_slope");
        return run_map(EltwiseOp::relu_forward, x, "x", py::none(), nullptr, slope, backend);
      },
      py::arg("x"), py::arg("negative_slope") = 0.0f, py::arg("backend") = "auto");
  m.def(
      "relu_backward",
      [](py::handle dy, py::handle x, float slope, const std::string& backend) {
        check_eltwise_param(slope, "relu_backward", "negative_slope");
        return run_map(EltwiseOp::relu_backward, dy, "dy", x, "x", slope, backend);
      },
      py::arg("dy"), py::arg("x"), py::arg("negative_slope") = 0.0f, py::arg("backend") = "auto");
  m.def(
      "elu_forward",
      [](py::handle x, float alpha, const std::string& backend) {
        check_eltwise_param(alpha, "elu_forward", "alpha");
        return run_map(EltwiseOp::elu_forward, x, "x", py::none(), nullptr, alpha, backend);
      },
      py::arg("x"), py::arg("alpha") = 1.0f, py::arg("backend") = "auto");
  m.def(
      "elu_backward",
      [](py::handle dy, py::handle x, float alpha, const std::string& backend) {
        check_eltwise_param(alpha, "elu_backward", "alpha");
        return run_map(EltwiseOp::elu_backward, dy, "dy", x, "x", alpha, backend);
      },
      py::arg("dy"), py::arg("x"), py::arg("alpha") = 1.0f, py::arg("backend") = "auto");
  unary("sigmoid_forward", EltwiseOp::sigmoid_forward);
  backward("sigmoid_backward", EltwiseOp::sigmoid_backward, "y");
  unary("tanh_forward", EltwiseOp::tanh_forward);
  backward("tanh_backward", EltwiseOp::tanh_backward, "y");
  unary("abs_forward", EltwiseOp::abs_forward);
  backward("abs_backward", EltwiseOp::abs_backward, "x");
  unary("vexp", EltwiseOp::vexp);
  unary("vlog", EltwiseOp::vlog);
  unary("vtanh", EltwiseOp::vtanh);
  m.def("prelu_forward", &prelu_forward, py::arg("x"), py::arg("weight"), py::arg("backend") = "auto");
  m.def("prelu_backward", &prelu_backward, py::arg("dy"), py::arg("x"), py::arg("weight"), py::arg("backend") = "auto");
  m.def("maxout_forward", &maxout_forward, py::arg("x"), py::arg("pool_size"), py::arg("backend") = "auto");
  m.def("maxout_backward", &maxout_backward, py::arg("dy"), py::arg("indices"), py::arg("pool_size"),
        py::arg("backend") = "auto");
}

}  // namespace dlcore
