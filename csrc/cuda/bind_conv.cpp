// dlcore._cuda 2-D convolution: forward, backward data, backward weights
// (implicit GEMM, see conv.cu). NCHW activations, OIHW weights.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/args.h"
#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace cuda {

static Shape shape_arg(py::handle obj, const char* op, const char* name) { return args::shape_arg(obj, op, name, 4); }

// The checks and the output size are make_conv_shape (ops/conv/conv.h), the
// one rule _C and _onednn use too; the kernels index pixels and GEMM extents
// with 32-bit ints (checked here).
static ConvShape conv_shape(const Shape& x, const Shape& w, py::handle stride_obj, py::handle padding_obj,
                            py::handle dilation_obj, int64_t groups, const char* op) {
  const dlcore::ConvShape g =
      make_conv_shape(x, w, args::pair_arg(stride_obj, op, "stride"), args::padding4_arg(padding_obj, op),
                      args::pair_arg(dilation_obj, op, "dilation"), groups, op);
  check_int32(x[0] * x[1] * x[2] * x[3], op, "input elements");
  check_int32(g.n * g.oc * g.oh * g.ow, op, "output elements");
  check_int32(w[0] * w[1] * w[2] * w[3], op, "weight elements");
  ConvShape s;
  s.n = int(g.n), s.c = int(g.ic), s.h = int(g.ih), s.w = int(g.iw);
  s.o = int(g.oc), s.kh = int(g.kh), s.kw = int(g.kw);
  s.oh = int(g.oh), s.ow = int(g.ow);
  s.sh = int(g.sh), s.sw = int(g.sw), s.pt = int(g.pt), s.pl = int(g.pl);
  s.dh = int(g.dh), s.dw = int(g.dw), s.groups = int(g.groups);
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

static py::tuple backward_weights_entry(py::handle x_obj, py::handle dy_obj, py::handle weight_shape, py::handle stride,
                                        py::handle padding, py::handle dilation, int64_t groups, bool bias,
                                        const std::string&) {
  const char* op = "conv2d_backward_weights";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  const Shape wshape = shape_arg(weight_shape, op, "weight_shape");
  const ConvShape s = conv_shape(x.shape, wshape, stride, padding, dilation, groups, op);
  DLCORE_CHECK(dy.shape == output_shape(s), op, ": dy has shape ", shape_str(dy.shape), " but x ", shape_str(x.shape),
               " and weight_shape ", shape_str(wshape), " give output ", shape_str(output_shape(s)));
  cudaStream_t stream = current_stream();  // first: the split-K plan is sized for this device
  if (int64_t(s.n) * s.oh * s.ow == 0) {   // nothing to reduce over: the gradients are zero
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
