// dlcore._C.conv2d_{forward,backward_data,backward_weights}: every check here
// (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/conv_bf16_call.h"
#include "bindings/init.h"
#include "ops/conv/conv.h"
#include "ops/eltwise/eltwise.h"

namespace py = pybind11;

namespace dlcore {

namespace {

Shape shape_param(py::handle obj, const char* op, const char* name) { return args::shape_arg(obj, op, name, 4); }

ConvShape make_shape(const Shape& xs, const Shape& ws, py::handle stride, py::handle padding, py::handle dilation,
                     int64_t groups, const char* op) {
  return make_conv_shape(xs, ws, args::pair_arg(stride, op, "stride"), args::padding4_arg(padding, op),
                         args::pair_arg(dilation, op, "dilation"), groups, op);
}

// y = relu(y) as a pass of its own (relu_forward's kernel, in place), for the
// entries that cannot fuse it: the bfloat16 column.
void relu_pass(FloatArray& y) {
  EltwiseArgs e;
  e.op = EltwiseOp::relu_forward;
  e.n = int64_t(y.size());
  e.a = y.data();
  e.out = y.mutable_data();
  const auto& impl = eltwise_registry(e.op).select(e, "auto");
  py::gil_scoped_release nogil;
  impl.run(e);
}

FloatArray forward_entry(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle stride, py::handle padding,
                         py::handle dilation, int64_t groups, const std::string& backend, py::handle activation) {
  const char* op = "conv2d_forward";
  const bool relu = args::activation_arg(activation, op) == Activation::relu;
  if (is_bf16_array(x_obj) || is_bf16_array(w_obj)) {  // the bf16 column (bind_conv_bf16.cpp)
    FloatArray y = conv2d_forward_bf16_entry(
        x_obj, w_obj, bias_obj,
        [&](const Shape& xs, const Shape& ws) { return make_shape(xs, ws, stride, padding, dilation, groups, op); },
        backend);
    if (relu) relu_pass(y);  // not fused in the bf16 kernels: a separate pass
    return y;
  }
  FloatArray x = input_f32(x_obj, op, "x", 4);
  FloatArray w = input_f32(w_obj, op, "w", 4);
  ConvForwardArgs a;
  a.s = make_shape(shape_of(x), shape_of(w), stride, padding, dilation, groups, op);
  FloatArray bias;
  if (!bias_obj.is_none()) {
    bias = input_f32(bias_obj, op, "bias", 1);
    check_conv_bias(shape_of(bias), a.s, shape_of(w), op);
    a.bias = bias.data();
  }
  FloatArray y = new_f32({a.s.n, a.s.oc, a.s.oh, a.s.ow});
  a.x = x.data();
  a.w = w.data();
  a.y = y.mutable_data();
  a.relu = relu;  // every float32 entry fuses it (conv.h)
  const auto& impl = conv2d_forward_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

FloatArray backward_data_entry(py::handle dy_obj, py::handle w_obj, py::handle input_shape, py::handle stride,
                               py::handle padding, py::handle dilation, int64_t groups, const std::string& backend) {
  const char* op = "conv2d_backward_data";
  if (is_bf16_array(dy_obj) || is_bf16_array(w_obj))
    return conv2d_backward_data_bf16_entry(
        dy_obj, w_obj, shape_param(input_shape, op, "input_shape"),
        [&](const Shape& xs, const Shape& ws) { return make_shape(xs, ws, stride, padding, dilation, groups, op); },
        backend);
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray w = input_f32(w_obj, op, "w", 4);
  ConvBackwardDataArgs a;
  a.s = make_shape(shape_param(input_shape, op, "input_shape"), shape_of(w), stride, padding, dilation, groups, op);
  check_conv_dy(shape_of(dy), a.s, op, "input_shape and w");
  FloatArray dx = new_f32({a.s.n, a.s.ic, a.s.ih, a.s.iw});
  a.dy = dy.data();
  a.w = w.data();
  a.dx = dx.mutable_data();
  const auto& impl = conv2d_backward_data_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return dx;
}

py::tuple backward_weights_entry(py::handle x_obj, py::handle dy_obj, py::handle weight_shape, py::handle stride,
                                 py::handle padding, py::handle dilation, int64_t groups, bool bias,
                                 const std::string& backend) {
  const char* op = "conv2d_backward_weights";
  if (is_bf16_array(x_obj) || is_bf16_array(dy_obj))
    return conv2d_backward_weights_bf16_entry(
        x_obj, dy_obj, shape_param(weight_shape, op, "weight_shape"), bias,
        [&](const Shape& xs, const Shape& ws) { return make_shape(xs, ws, stride, padding, dilation, groups, op); },
        backend);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  ConvBackwardWeightsArgs a;
  const Shape ws = shape_param(weight_shape, op, "weight_shape");
  a.s = make_shape(shape_of(x), ws, stride, padding, dilation, groups, op);
  check_conv_dy(shape_of(dy), a.s, op, "x and weight_shape");
  FloatArray dw = new_f32(ws);
  FloatArray db;
  a.x = x.data();
  a.dy = dy.data();
  a.dw = dw.mutable_data();
  if (bias) {
    db = new_f32({a.s.oc});
    a.db = db.mutable_data();
  }
  const auto& impl = conv2d_backward_weights_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(dw, bias ? py::object(db) : py::object(py::none()));
}

// _C.conv_geometry: (OH, OW) as make_conv_shape computes and checks it.
py::tuple conv_geometry_entry(py::handle input_shape, py::handle weight_shape, py::handle stride, py::handle padding,
                              py::handle dilation, int64_t groups) {
  const char* op = "conv_geometry";
  const ConvShape s = make_shape(shape_param(input_shape, op, "input_shape"),
                                 shape_param(weight_shape, op, "weight_shape"), stride, padding, dilation, groups, op);
  return py::make_tuple(s.oh, s.ow);
}

}  // namespace

void init_conv(py::module_& m) {
  m.def("conv2d_forward", &forward_entry, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto", py::arg("activation") = py::none());
  m.def("conv2d_backward_data", &backward_data_entry, py::arg("dy"), py::arg("w"), py::arg("input_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("conv2d_backward_weights", &backward_weights_entry, py::arg("x"), py::arg("dy"), py::arg("weight_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("bias") = true, py::arg("backend") = "auto");
  m.def("conv_geometry", &conv_geometry_entry, py::arg("input_shape"), py::arg("weight_shape"), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        "(OH, OW) of conv2d over input_shape (N, C, H, W) and weight_shape (O, C/groups, KH, KW), with "
        "every check the kernels make.");
  m.def("_conv_poison_scratch", &conv_poison_scratch,
        "Test hook: fill the calling thread's convolution scratch buffers with NaN");
}

}  // namespace dlcore
