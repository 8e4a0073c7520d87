// dlcore._cuda 2-D max / average pooling (PyTorch output-size rules, ceil_mode).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/args.h"
#include "core/checked.h"
#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "ops/pool/pool.h"

namespace dlcore {
namespace cuda {

// Geometry of a pooling call on an (n, c, h, w) input: the checks and the
// output size are make_pool_geom (ops/pool/pool.h), the one rule _C and
// _onednn use too; the kernels index in int32 (checked here).
static Pool2dShape pool_shape(const Shape& in, py::handle kernel_obj, py::handle stride_obj, py::handle padding_obj,
                              bool ceil_mode, const char* op) {
  const auto k = args::pair_arg(kernel_obj, op, "kernel_size");
  const auto s = stride_obj.is_none() ? k : args::pair_arg(stride_obj, op, "stride");
  const auto p = args::pair_arg(padding_obj, op, "padding");
  const PoolGeom pg = make_pool_geom(op, in, k[0], k[1], s[0], s[1], p[0], p[1], ceil_mode);
  for (int64_t d : in) check_int32(d, op, "an input extent");
  Pool2dShape g;
  g.n = int(pg.n), g.c = int(pg.c), g.h = int(pg.h), g.w = int(pg.w);
  g.kh = int(pg.kh), g.kw = int(pg.kw), g.sh = int(pg.sh), g.sw = int(pg.sw), g.ph = int(pg.ph), g.pw = int(pg.pw);
  g.oh = int(pg.oh), g.ow = int(pg.ow);
  return g;
}

static Shape input_shape_arg(py::handle obj, const char* op) { return args::shape_arg(obj, op, "input_shape", 4); }

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

static py::object max_backward_entry(py::handle dy_obj, py::handle idx_obj, py::handle shape_obj, const std::string&) {
  const char* op = "max_pool2d_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  DeviceArray idx = device_input(idx_obj, op, "indices", DType::I32, 4);
  const Shape in = input_shape_arg(shape_obj, op);
  DLCORE_CHECK(idx.shape == dy.shape, op, ": indices have shape ", shape_str(idx.shape), " but dy has shape ",
               shape_str(dy.shape));
  DLCORE_CHECK(dy.shape[0] == in[0] && dy.shape[1] == in[1], op, ": dy of shape ", shape_str(dy.shape),
               " does not match input_shape ", shape_str(in), " in N and C");
  DLCORE_CHECK(in[1] > 0 && in[2] > 0 && in[3] > 0, op, ": input_shape ", shape_str(in),
               " must have non-empty C, H and W (N may be 0)");
  check_numel(in, op, "input_shape");
  check_int32(in[2] * in[3], op, "H * W");
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_zeros(in, DType::F32);  // scattered into
  without_gil([&] {
    max_pool2d_backward(dy.f32(), idx.i32(), dx.f32(), in[0] * in[1], dy.shape[2] * dy.shape[3], in[2] * in[3], stream);
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

static py::object avg_backward_entry(py::handle dy_obj, py::handle shape_obj, py::handle k, py::handle s, py::handle p,
                                     bool ceil_mode, bool count_include_pad, const std::string&) {
  const char* op = "avg_pool2d_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32, 4);
  const Shape in = input_shape_arg(shape_obj, op);
  const Pool2dShape g = pool_shape(in, k, s, p, ceil_mode, op);
  DLCORE_CHECK(dy.shape == out_shape(g), op, ": dy has shape ", shape_str(dy.shape), " but input_shape ", shape_str(in),
               " pools to ", shape_str(out_shape(g)));
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(in, DType::F32);
  without_gil([&] { avg_pool2d_backward(dy.f32(), dx.f32(), g, count_include_pad, stream); });
  return dx.obj;
}

void init_pool(py::module_& m) {
  const auto backend = py::arg("backend") = "cuda";
  m.def("max_pool2d_forward", &max_forward_entry, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, backend);
  m.def("max_pool2d_backward", &max_backward_entry, py::arg("dy"), py::arg("indices"), py::arg("input_shape"), backend);
  m.def("avg_pool2d_forward", &avg_forward_entry, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, backend);
  m.def("avg_pool2d_backward", &avg_backward_entry, py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, backend);
}

}  // namespace cuda
}  // namespace dlcore
