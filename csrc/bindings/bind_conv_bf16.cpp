// The bfloat16 column of dlcore._C.conv2d_*: bind_conv.cpp's entries hand
// bf16 calls here after parsing the hyper-parameters (its make_shape, passed
// in, stays the one geometry rule). Checks (GIL held) -> dispatch -> kernel
// (GIL released). Outputs are float32.
#include "bindings/conv_bf16_call.h"

#include "bindings/bf16_array.h"
#include "ops/conv/conv_bf16.h"

namespace dlcore {
namespace {

void check_same_dtype(py::handle a, py::handle b, const char* op, const char* an, const char* bn) {
  DLCORE_CHECK_TYPE(is_bf16_array(a) && is_bf16_array(b), op, ": ", an, " and ", bn,
                    " must have the same dtype (both float32 or both bfloat16), got ", an, " ", dtype_name(a), " and ",
                    bn, " ", dtype_name(b), "; convert one explicitly");
}

}  // namespace

FloatArray conv2d_forward_bf16_entry(py::handle x_obj, py::handle w_obj, py::handle bias_obj, const MakeConvShape& make,
                                     const std::string& backend) {
  const char* op = "conv2d_forward";
  check_same_dtype(x_obj, w_obj, op, "x", "w");
  py::array x = input_bf16(x_obj, op, "x", 4), w = input_bf16(w_obj, op, "w", 4);
  ConvBf16ForwardArgs a;
  a.s = make(shape_of(x), shape_of(w));
  FloatArray bias;
  if (!bias_obj.is_none()) {
    bias = input_f32(bias_obj, op, "bias (float32 with bfloat16 x and w)", 1);
    check_conv_bias(shape_of(bias), a.s, shape_of(w), op);
    a.bias = bias.data();
  }
  FloatArray y = new_f32({a.s.n, a.s.oc, a.s.oh, a.s.ow});
  a.x = bf16_data(x);
  a.w = bf16_data(w);
  a.y = y.mutable_data();
  const auto& impl = conv2d_forward_bf16_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

FloatArray conv2d_backward_data_bf16_entry(py::handle dy_obj, py::handle w_obj, const Shape& input_shape,
                                           const MakeConvShape& make, const std::string& backend) {
  const char* op = "conv2d_backward_data";
  check_same_dtype(dy_obj, w_obj, op, "dy", "w");
  py::array dy = input_bf16(dy_obj, op, "dy", 4), w = input_bf16(w_obj, op, "w", 4);
  ConvBf16BackwardDataArgs a;
  a.s = make(input_shape, shape_of(w));
  check_conv_dy(shape_of(dy), a.s, op, "input_shape and w");
  FloatArray dx = new_f32({a.s.n, a.s.ic, a.s.ih, a.s.iw});
  a.dy = bf16_data(dy);
  a.w = bf16_data(w);
  a.dx = dx.mutable_data();
  const auto& impl = conv2d_backward_data_bf16_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return dx;
}

py::tuple conv2d_backward_weights_bf16_entry(py::handle x_obj, py::handle dy_obj, const Shape& weight_shape, bool bias,
                                             const MakeConvShape& make, const std::string& backend) {
  const char* op = "conv2d_backward_weights";
  check_same_dtype(x_obj, dy_obj, op, "x", "dy");
  py::array x = input_bf16(x_obj, op, "x", 4), dy = input_bf16(dy_obj, op, "dy", 4);
  ConvBf16BackwardWeightsArgs a;
  a.s = make(shape_of(x), weight_shape);
  check_conv_dy(shape_of(dy), a.s, op, "x and weight_shape");
  FloatArray dw = new_f32(weight_shape);
  FloatArray db;
  a.x = bf16_data(x);
  a.dy = bf16_data(dy);
  a.dw = dw.mutable_data();
  if (bias) {
    db = new_f32({a.s.oc});
    a.db = db.mutable_data();
  }
  const auto& impl = conv2d_backward_weights_bf16_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(dw, bias ? py::object(db) : py::object(py::none()));
}

}  // namespace dlcore
