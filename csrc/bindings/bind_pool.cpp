// dlcore._C pooling entries: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/init.h"
#include "ops/pool/pool.h"

namespace py = pybind11;

namespace dlcore {

using IndexArray = py::array_t<int32_t, py::array::c_style>;

namespace {

Shape input_shape_arg(py::handle obj, const char* op) { return args::shape_arg(obj, op, "input_shape", 4); }

PoolGeom geom_from(const char* op, const Shape& x, py::handle kernel_size, py::handle stride, py::handle padding,
                   bool ceil_mode) {
  auto k = args::pair_arg(kernel_size, op, "kernel_size");
  auto s = stride.is_none() ? k : args::pair_arg(stride, op, "stride");
  auto p = args::pair_arg(padding, op, "padding");
  return make_pool_geom(op, x, k[0], k[1], s[0], s[1], p[0], p[1], ceil_mode);
}

Shape out_shape(const PoolGeom& g) { return {g.n, g.c, g.oh, g.ow}; }

void check_dy(const char* op, const FloatArray& dy, const PoolGeom& g) {
  check_pool_dy(shape_of(dy), out_shape(g), {g.n, g.c, g.h, g.w}, op);
}

void run_kernel(const Registry<PoolArgs>& registry, const PoolArgs& args, const std::string& backend) {
  const auto& impl = registry.select(args, backend);
  py::gil_scoped_release nogil;
  impl.run(args);
}

py::tuple max_pool2d_forward_entry(py::handle x_obj, py::handle kernel_size, py::handle stride, py::handle padding,
                                   bool ceil_mode, const std::string& backend) {
  const char* op = "max_pool2d_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolArgs a;
  a.g = geom_from(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  FloatArray y = new_f32(out_shape(a.g));
  IndexArray idx(std::vector<py::ssize_t>{a.g.n, a.g.c, a.g.oh, a.g.ow});
  a.x = x.data();
  a.y = y.mutable_data();
  a.indices = idx.mutable_data();
  run_kernel(max_pool2d_forward_registry(), a, backend);
  return py::make_tuple(y, idx);
}

FloatArray max_pool2d_backward_entry(py::handle dy_obj, py::handle idx_obj, py::handle input_shape,
                                     const std::string& backend) {
  const char* op = "max_pool2d_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  DLCORE_CHECK_TYPE(py::isinstance<py::array>(idx_obj), op, ": indices must be a numpy.ndarray");
  py::array idx_arr = py::reinterpret_borrow<py::array>(idx_obj);
  DLCORE_CHECK_TYPE(idx_arr.dtype().equal(py::dtype::of<int32_t>()), op, ": indices must be int32, got ",
                    std::string(py::str(idx_arr.dtype())));
  DLCORE_CHECK(idx_arr.flags() & py::array::c_style, op,
               ": indices are not C-contiguous; pass "
               "numpy.ascontiguousarray(indices)");
  DLCORE_CHECK(shape_of(idx_arr) == shape_of(dy), op, ": indices have shape ", shape_str(shape_of(idx_arr)),
               ", dy has shape ", shape_str(shape_of(dy)), " (they must match)");
  Shape in = input_shape_arg(input_shape, op);
  DLCORE_CHECK(in[0] == dy.shape(0) && in[1] == dy.shape(1) && in[0] >= 0 && in[1] > 0 && in[2] > 0 && in[3] > 0, op,
               ": input_shape ", shape_str(in), " does not fit dy of shape ", shape_str(shape_of(dy)),
               " (N and C must match; C, H, W non-empty)");
  check_numel({std::max<int64_t>(in[0], 1), in[1], in[2], in[3]}, op, "input_shape");
  DLCORE_CHECK(in[2] * in[3] <= INT32_MAX, op, ": an input plane of ", in[2], " x ", in[3],
               " elements does not fit int32 indices");
  PoolArgs a;
  a.g.n = in[0], a.g.c = in[1], a.g.h = in[2], a.g.w = in[3];
  a.g.oh = dy.shape(2), a.g.ow = dy.shape(3);
  FloatArray dx = new_f32(in);
  a.dy = dy.data();
  a.indices_in = static_cast<const int32_t*>(idx_arr.data());
  a.dx = dx.mutable_data();
  run_kernel(max_pool2d_backward_registry(), a, backend);
  DLCORE_CHECK(a.bad_indices == 0, op, ": ", a.bad_indices, " indices lie outside [0, H*W) = [0, ", in[2] * in[3],
               ") of input_shape ", shape_str(in), "; they must come from max_pool2d_forward");
  return dx;
}

FloatArray avg_pool2d_forward_entry(py::handle x_obj, py::handle kernel_size, py::handle stride, py::handle padding,
                                    bool ceil_mode, bool count_include_pad, const std::string& backend) {
  const char* op = "avg_pool2d_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolArgs a;
  a.g = geom_from(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  a.g.count_include_pad = count_include_pad;
  FloatArray y = new_f32(out_shape(a.g));
  a.x = x.data();
  a.y = y.mutable_data();
  run_kernel(avg_pool2d_forward_registry(), a, backend);
  return y;
}

FloatArray avg_pool2d_backward_entry(py::handle dy_obj, py::handle input_shape, py::handle kernel_size,
                                     py::handle stride, py::handle padding, bool ceil_mode, bool count_include_pad,
                                     const std::string& backend) {
  const char* op = "avg_pool2d_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  PoolArgs a;
  a.g = geom_from(op, input_shape_arg(input_shape, op), kernel_size, stride, padding, ceil_mode);
  a.g.count_include_pad = count_include_pad;
  check_dy(op, dy, a.g);
  FloatArray dx = new_f32({a.g.n, a.g.c, a.g.h, a.g.w});
  a.dy = dy.data();
  a.dx = dx.mutable_data();
  run_kernel(avg_pool2d_backward_registry(), a, backend);
  return dx;
}

// _C.pool_geometry: the output shape make_pool_geom gives, for the Python
// float64 path (and anyone else) instead of a copy of the rule.
py::tuple pool_geometry_entry(py::handle input_shape, py::handle kernel_size, py::handle stride, py::handle padding,
                              bool ceil_mode) {
  const char* op = "pool_geometry";
  const PoolGeom g = geom_from(op, input_shape_arg(input_shape, op), kernel_size, stride, padding, ceil_mode);
  return py::make_tuple(g.oh, g.ow);
}

}  // namespace

void init_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("backend") = "auto");
  m.def("max_pool2d_backward", &max_pool2d_backward_entry, py::arg("dy"), py::arg("indices"), py::arg("input_shape"),
        py::arg("backend") = "auto");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("backend") = "auto");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_entry, py::arg("dy"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("backend") = "auto");
  m.def("pool_geometry", &pool_geometry_entry, py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        "(OH, OW) of 2-D pooling over input_shape (N, C, H, W), with every check the kernels make "
        "(ValueError / TypeError as they raise it).");
}

}  // namespace dlcore
