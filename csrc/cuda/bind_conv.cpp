// dlcore._cuda 2-D convolution: forward, backward data, backward weights
// (implicit GEMM, see conv.cu). NCHW activations, OIHW weights.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {

static Shape shape_arg(py::handle obj, const char* op, const char* name) {
  DLCORE_CHECK_TYPE(py::isinstance<py::sequence>(obj), op, ": ", name, " must be a tuple of 4 ints");
  Shape shape = obj.cast<Shape>();
  DLCORE_CHECK(shape.size() == 4, op, ": ", name, " must have 4 entries, got ", shape_str(shape));
  for (int64_t d : shape) DLCORE_CHECK(d >= 0, op, ": ", name, " ", shape_str(shape), " has a negative extent");
  return shape;
}

// Checks the hyper-parameters against input (n, c, h, w) and weight (o, c/g, kh, kw)
// and returns the geometry with the output size filled in.
static ConvShape conv_shape(const Shape& x, const Shape& w, py::handle stride_obj, py::handle padding_obj,
                            py::handle dilation_obj, int64_t groups, const char* op) {
  const auto stride = int_tuple(stride_obj, 2, op, "stride");
  const auto dilation = int_tuple(dilation_obj, 2, op, "dilation");
  std::vector<int64_t> pad;  // top, bottom, left, right
  if (py::isinstance<py::int_>(padding_obj)) {
    pad.assign(4, padding_obj.cast<int64_t>());
  } else {
    DLCORE_CHECK_TYPE(py::isinstance<py::sequence>(padding_obj), op, ": padding must be an int or a tuple");
    const auto p = padding_obj.cast<std::vector<int64_t>>();
    DLCORE_CHECK(p.size() == 2 || p.size() == 4, op, ": padding must be an int, (ph, pw) or (top, bottom, left, right)");
    pad = p.size() == 2 ? std::vector<int64_t>{p[0], p[0], p[1], p[1]} : p;
  }
  for (int i = 0; i < 2; ++i) {
    DLCORE_CHECK(stride[i] >= 1, op, ": stride must be positive, got ", shape_str(stride));
    DLCORE_CHECK(dilation[i] >= 1, op, ": dilation must be positive, got ", shape_str(dilation));
  }
  for (int64_t p : pad) DLCORE_CHECK(p >= 0, op, ": padding must be non-negative, got ", shape_str(pad));
  DLCORE_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  DLCORE_CHECK(x[1] % groups == 0 && w[0] % groups == 0, op, ": groups=", groups,
               " must divide the input channels of x ", shape_str(x), " and the output channels of weight ",
               shape_str(w));
  DLCORE_CHECK(w[1] * groups == x[1], op, ": weight of shape ", shape_str(w), " expects ", w[1] * groups,
               " input channels (groups=", groups, "), x has shape ", shape_str(x));
  DLCORE_CHECK(w[2] >= 1 && w[3] >= 1, op, ": weight of shape ", shape_str(w), " has an empty kernel");
  const int64_t eff_h = dilation[0] * (w[2] - 1) + 1, eff_w = dilation[1] * (w[3] - 1) + 1;
  const int64_t ph = x[2] + pad[0] + pad[1], pw = x[3] + pad[2] + pad[3];
  DLCORE_CHECK(ph >= eff_h && pw >= eff_w, op, ": padded input ", ph, "x", pw, " is smaller than the dilated kernel ",
               eff_h, "x", eff_w, " (x ", shape_str(x), ", weight ", shape_str(w), ")");
  ConvShape s;
  s.n = int(x[0]), s.c = int(x[1]), s.h = int(x[2]), s.w = int(x[3]);
  s.o = int(w[0]), s.kh = int(w[2]), s.kw = int(w[3]);
  s.oh = int((ph - eff_h) / stride[0] + 1), s.ow = int((pw - eff_w) / stride[1] + 1);
  s.sh = int(stride[0]), s.sw = int(stride[1]), s.pt = int(pad[0]), s.pl = int(pad[2]);
  s.dh = int(dilation[0]), s.dw = int(dilation[1]), s.groups = int(groups);
  // The kernels index pixels and GEMM extents with 32-bit ints.
  check_int32(x[0] * x[1] * x[2] * x[3], op, "input elements");
  check_int32(int64_t(s.n) * s.o * s.oh * s.ow, op, "output elements");
  check_int32(w[0] * w[1] * w[2] * w[3], op, "weight elements");
  return s;
}

static Shape output_shape(const ConvShape& s) { return {s.n, s.o, s.oh, s.ow}; }

static py::object forward_entry(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle stride,
                                py::handle padding, py::handle dilation, int64_t groups, const std::string&) {
  const char* op = "conv2d_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  DeviceArray w = device_input(w_obj, op, "weight", DType::F32, 4);
  const ConvShape s = conv_shape(x.shape, w.shape, stride, padding, dilation, groups, op);
  DeviceArray bias;
  if (!bias_obj.is_none()) {
    bias = device_input(bias_obj, op, "bias", DType::F32, 1);
    DLCORE_CHECK(bias.shape[0] == s.o, op, ": bias has shape ", shape_str(bias.shape), ", expected (", s.o, ",)");
  }
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(output_shape(s), DType::F32);
  without_gil([&] { conv2d_forward(x.f32(), w.f32(), bias.f32(), y.f32(), s, stream); });
  return y.obj;
}

static py::object backward_data_entry(py::handle dy_obj, py::handle w_obj, py::handle input_shape, py::handle stride,
                                      py::handle padding, py::handle dilation, int64_t groups, const std::string&) {
  const char* op = "conv2d_backward_data";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  DeviceArray w = device_input(w_obj, op, "weight", DType::F32, 4);
  const Shape in = shape_arg(input_shape, op, "input_shape");
  const ConvShape s = conv_shape(in, w.shape, stride, padding, dilation, groups, op);
  DLCORE_CHECK(dy.shape == output_shape(s), op, ": dy has shape ", shape_str(dy.shape), " but input_shape ",
               shape_str(in), " and weight ", shape_str(w.shape), " give output ", shape_str(output_shape(s)));
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(in, DType::F32);
  without_gil([&] { conv2d_backward_data(dy.f32(), w.f32(), dx.f32(), s, stream); });
  return dx.obj;
}

static py::tuple backward_weights_entry(py::handle x_obj, py::handle dy_obj, py::handle weight_shape,
                                        py::handle stride, py::handle padding, py::handle dilation, int64_t groups,
                                        bool bias, const std::string&) {
  const char* op = "conv2d_backward_weights";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  const Shape wshape = shape_arg(weight_shape, op, "weight_shape");
  const ConvShape s = conv_shape(x.shape, wshape, stride, padding, dilation, groups, op);
  DLCORE_CHECK(dy.shape == output_shape(s), op, ": dy has shape ", shape_str(dy.shape), " but x ",
               shape_str(x.shape), " and weight_shape ", shape_str(wshape), " give output ",
               shape_str(output_shape(s)));
  cudaStream_t stream = current_stream();  // first: the split-K plan is sized for this device
  if (int64_t(s.n) * s.oh * s.ow == 0) {  // nothing to reduce over: the gradients are zero
    return py::make_tuple(device_zeros(wshape, DType::F32).obj,
                          bias ? device_zeros({s.o}, DType::F32).obj : py::object(py::none()));
  }
  DeviceArray dw = device_empty(wshape, DType::F32);
  DeviceArray db = bias ? device_empty({s.o}, DType::F32) : DeviceArray{};
  const int64_t scratch = conv2d_backward_weights_workspace(s);
  DeviceArray workspace = scratch > 0 ? device_empty({scratch}, DType::F32) : DeviceArray{};
  without_gil([&] { conv2d_backward_weights(x.f32(), dy.f32(), dw.f32(), db.f32(), workspace.f32(), s, stream); });
  return py::make_tuple(dw.obj, bias ? db.obj : py::object(py::none()));
}

void init_conv(py::module_& m) {
  const auto backend = py::arg("backend") = "cuda";
  m.def("conv2d_forward", &forward_entry, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, backend);
  m.def("conv2d_backward_data", &backward_data_entry, py::arg("dy"), py::arg("w"), py::arg("input_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, backend);
  m.def("conv2d_backward_weights", &backward_weights_entry, py::arg("x"), py::arg("dy"), py::arg("weight_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("bias") = true, backend);
}

}  // namespace cuda
}  // namespace dlcore
