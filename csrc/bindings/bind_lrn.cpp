// dlcore._C LRN entries: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/init.h"
#include "ops/lrn/lrn.h"

namespace py = pybind11;

namespace dlcore {
namespace {

LrnArgs lrn_args(const char* op, const FloatArray& x, int64_t size, double alpha, double beta, double k,
                 const std::string& region, bool alpha_over_size) {
  LrnArgs a = make_lrn_args(op, shape_of(x), size, alpha, beta, k, region, alpha_over_size);
  a.x = x.data();
  return a;
}

void run_kernel(const Registry<LrnArgs>& registry, const LrnArgs& args, const std::string& backend) {
  const auto& impl = registry.select(args, backend);
  py::gil_scoped_release nogil;
  impl.run(args);
}

FloatArray lrn_forward_entry(py::handle x_obj, int64_t size, double alpha, double beta, double k,
                             const std::string& region, bool alpha_over_size, const std::string& backend) {
  const char* op = "lrn_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  LrnArgs a = lrn_args(op, x, size, alpha, beta, k, region, alpha_over_size);
  FloatArray y = new_f32(shape_of(x));
  a.y = y.mutable_data();
  run_kernel(lrn_forward_registry(), a, backend);
  return y;
}

FloatArray lrn_backward_entry(py::handle dy_obj, py::handle x_obj, int64_t size, double alpha, double beta, double k,
                              const std::string& region, bool alpha_over_size, const std::string& backend) {
  const char* op = "lrn_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  DLCORE_CHECK(shape_of(dy) == shape_of(x), op, ": dy has shape ", shape_str(shape_of(dy)), " but x has shape ",
               shape_str(shape_of(x)));
  LrnArgs a = lrn_args(op, x, size, alpha, beta, k, region, alpha_over_size);
  FloatArray dx = new_f32(shape_of(x));
  a.dy = dy.data();
  a.dx = dx.mutable_data();
  run_kernel(lrn_backward_registry(), a, backend);
  return dx;
}

// Test hook: s^(-beta) through one ISA's vector power (lrn_math.h).
FloatArray lrn_pow_entry(py::handle s_obj, double beta, const std::string& backend) {
  FloatArray s = input_f32(s_obj, "_lrn_pow", "s");
  const LrnKernels& k = lrn_kernels_for(backend);
  FloatArray out = new_f32(shape_of(s));
  py::gil_scoped_release nogil;
  k.power(s.data(), out.mutable_data(), s.size(), float(beta));
  return out;
}

// _C.lrn_geometry: the window make_lrn_args gives, for the Python float64
// path (and anyone else) instead of a copy of the rule: (front, back, n) with
// the window of i being [i - front, i + back] along C ("across") or along H
// and W ("within"), reaches capped at the extent - 1 (a larger window adds
// nothing), and n the divisor of alpha (size or size*size; 1 without
// alpha_over_size). Every check the kernels make.
py::tuple lrn_geometry_entry(py::handle input_shape, py::handle size, double alpha, double beta, double k,
                             const std::string& region, bool alpha_over_size) {
  const char* op = "lrn_geometry";
  const LrnArgs a = make_lrn_args(op, args::shape_arg(input_shape, op, "input_shape", 4),
                                  args::int_arg(size, op, "size"), alpha, beta, k, region, alpha_over_size);
  const double n = !alpha_over_size ? 1.0 : a.across ? double(a.size) : double(a.size) * double(a.size);
  return py::make_tuple(a.front(), a.back(), n);
}

}  // namespace

void init_lrn(py::module_& m) {
  m.def("lrn_forward", &lrn_forward_entry, py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4,
        py::arg("beta") = 0.75, py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "auto");
  m.def("lrn_backward", &lrn_backward_entry, py::arg("dy"), py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4,
        py::arg("beta") = 0.75, py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "auto");
  m.def("_lrn_pow", &lrn_pow_entry, py::arg("s"), py::arg("beta"), py::arg("backend") = "auto",
        "Test hook: s ** -beta elementwise by the LRN vector power of one ISA.");
  m.def("lrn_geometry", &lrn_geometry_entry, py::arg("input_shape"), py::arg("size"), py::arg("alpha") = 1e-4,
        py::arg("beta") = 0.75, py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        "(front, back, n) of LRN over input_shape (N, C, H, W): the window of i is [i - front, i + back] "
        "(capped at the extent - 1) and alpha is divided by n; with every check the kernels make.");
}

}  // namespace dlcore
