// dlcore._cuda 2-D max / average pooling (PyTorch output-size rules, ceil_mode).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"

namespace dlcore {
namespace cuda {

// Output extent along one axis; a window may not start in the right/bottom padding.
static int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  int64_t out = (in + 2 * p - k + (ceil_mode ? s - 1 : 0)) / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// Geometry of a pooling call on an (n, c, h, w) input, checked.
static Pool2dShape pool_shape(const Shape& in, py::handle kernel_obj, py::handle stride_obj, py::handle padding_obj,
                              bool ceil_mode, const char* op) {
  DLCORE_CHECK(in.size() == 4, op, ": input must be (N, C, H, W), got shape ", shape_str(in));
  const auto k = int_tuple(kernel_obj, 2, op, "kernel_size");
  const auto s = stride_obj.is_none() ? k : int_tuple(stride_obj, 2, op, "stride");
  const auto p = int_tuple(padding_obj, 2, op, "padding");
  for (int i = 0; i < 2; ++i) {
    DLCORE_CHECK(k[i] > 0 && s[i] > 0, op, ": kernel_size and stride must be positive, got kernel_size ",
                 shape_str(k), ", stride ", shape_str(s));
    DLCORE_CHECK(p[i] >= 0 && 2 * p[i] <= k[i], op, ": padding must be between 0 and half the kernel size, got ",
                 "padding ", shape_str(p), " for kernel_size ", shape_str(k));
    DLCORE_CHECK(in[2 + i] + 2 * p[i] >= k[i], op, ": input of shape ", shape_str(in),
                 " is smaller than the kernel ", shape_str(k), " (padding ", shape_str(p), ")");
  }
  for (int64_t d : in) check_int32(d, op, "an input extent");
  check_int32(in[2] * in[3], op, "H * W");
  Pool2dShape g;
  g.n = int(in[0]), g.c = int(in[1]), g.h = int(in[2]), g.w = int(in[3]);
  g.kh = int(k[0]), g.kw = int(k[1]), g.sh = int(s[0]), g.sw = int(s[1]), g.ph = int(p[0]), g.pw = int(p[1]);
  g.oh = int(pooled_size(in[2], k[0], s[0], p[0], ceil_mode));
  g.ow = int(pooled_size(in[3], k[1], s[1], p[1], ceil_mode));
  return g;
}

static Shape input_shape_arg(py::handle obj, const char* op) {
  DLCORE_CHECK_TYPE(py::isinstance<py::sequence>(obj), op, ": input_shape must be a tuple of 4 ints");
  Shape shape = obj.cast<Shape>();
  DLCORE_CHECK(shape.size() == 4, op, ": input_shape must have 4 entries (N, C, H, W), got ", shape_str(shape));
  for (int64_t d : shape) DLCORE_CHECK(d >= 0, op, ": input_shape ", shape_str(shape), " has a negative extent");
  return shape;
}

static Shape out_shape(const Pool2dShape& g) { return {g.n, g.c, g.oh, g.ow}; }

static py::tuple max_forward_entry(py::handle x_obj, py::handle k, py::handle s, py::handle p, bool ceil_mode,
                                   const std::string&) {
  const char* op = "max_pool2d_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  const Pool2dShape g = pool_shape(x.shape, k, s, p, ceil_mode, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(out_shape(g), DType::F32), idx = device_empty(out_shape(g), DType::I32);
  without_gil([&] { max_pool2d_forward(x.f32(), y.f32(), idx.i32(), g, stream); });
  return py::make_tuple(y.obj, idx.obj);
}

static py::object max_backward_entry(py::handle dy_obj, py::handle idx_obj, py::handle shape_obj,
                                     const std::string&) {
  const char* op = "max_pool2d_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  DeviceArray idx = device_input(idx_obj, op, "indices", DType::I32, 4);
  const Shape in = input_shape_arg(shape_obj, op);
  DLCORE_CHECK(idx.shape == dy.shape, op, ": indices have shape ", shape_str(idx.shape), " but dy has shape ",
               shape_str(dy.shape));
  DLCORE_CHECK(dy.shape[0] == in[0] && dy.shape[1] == in[1], op, ": dy of shape ", shape_str(dy.shape),
               " does not match input_shape ", shape_str(in), " in N and C");
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_zeros(in, DType::F32);  // scattered into
  without_gil([&] {
    max_pool2d_backward(dy.f32(), idx.i32(), dx.f32(), in[0] * in[1], dy.shape[2] * dy.shape[3], in[2] * in[3],
                        stream);
  });
  return dx.obj;
}

static py::object avg_forward_entry(py::handle x_obj, py::handle k, py::handle s, py::handle p, bool ceil_mode,
                                    bool count_include_pad, const std::string&) {
  const char* op = "avg_pool2d_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32, 4);
  const Pool2dShape g = pool_shape(x.shape, k, s, p, ceil_mode, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(out_shape(g), DType::F32);
  without_gil([&] { avg_pool2d_forward(x.f32(), y.f32(), g, count_include_pad, stream); });
  return y.obj;
}

static py::object avg_backward_entry(py::handle dy_obj, py::handle shape_obj, py::handle k, py::handle s,
                                     py::handle p, bool ceil_mode, bool count_include_pad, const std::string&) {
  const char* op = "avg_pool2d_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  const Shape in = input_shape_arg(shape_obj, op);
  const Pool2dShape g = pool_shape(in, k, s, p, ceil_mode, op);
  DLCORE_CHECK(dy.shape == out_shape(g), op, ": dy has shape ", shape_str(dy.shape), " but input_shape ",
               shape_str(in), " pools to ", shape_str(out_shape(g)));
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(in, DType::F32);
  without_gil([&] { avg_pool2d_backward(dy.f32(), dx.f32(), g, count_include_pad, stream); });
  return dx.obj;
}

void init_pool(py::module_& m) {
  const auto backend = py::arg("backend") = "cuda";
  m.def("max_pool2d_forward", &max_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false, backend);
  m.def("max_pool2d_backward", &max_backward_entry, py::arg("dy"), py::arg("indices"), py::arg("input_shape"),
        backend);
  m.def("avg_pool2d_forward", &avg_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, backend);
  m.def("avg_pool2d_backward", &avg_backward_entry, py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, backend);
}

}  // namespace cuda
}  // namespace dlcore
