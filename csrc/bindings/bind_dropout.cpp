// dlcore._C dropout: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/typed_array.h"
#include "ops/dropout/dropout.h"

namespace py = pybind11;

namespace dlcore {
namespace {

using MaskArray = py::array_t<uint8_t, py::array::c_style>;

void check_p(float p, const char* op) { DLCORE_CHECK(p >= 0.0f && p <= 1.0f, op, ": p must be in [0, 1], got ", p); }

void run(const DropoutArgs& a, const std::string& backend) {
  const auto& impl = dropout_registry(a.forward).select(a, backend);
  py::gil_scoped_release nogil;
  if (a.n > 0) impl.run(a);
}

py::tuple dropout_forward(py::handle x_obj, float p, uint64_t seed, const std::string& backend) {
  const char* op = "dropout_forward";
  FloatArray x = input_f32(x_obj, op, "x");
  check_p(p, op);
  const Shape s = shape_of(x);
  FloatArray y = new_f32(s);
  MaskArray mask = new_aligned<uint8_t>(s);
  DropoutArgs a;
  a.forward = true;
  a.n = x.size();
  a.p = p;
  a.seed = seed;
  a.in = x.data();
  a.out = y.mutable_data();
  a.mask = mask.mutable_data();
  run(a, backend);
  return py::make_tuple(y, mask);
}

FloatArray dropout_backward(py::handle dy_obj, py::handle mask_obj, float p, const std::string& backend) {
  const char* op = "dropout_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  MaskArray mask = input_typed<uint8_t>(mask_obj, op, "mask");
  check_p(p, op);
  DLCORE_CHECK(shape_of(mask) == shape_of(dy), op, ": mask ", shape_str(shape_of(mask)), " and dy ",
               shape_str(shape_of(dy)), " must have the same shape");
  FloatArray dx = new_f32(shape_of(dy));
  DropoutArgs a;
  a.forward = false;
  a.n = dy.size();
  a.p = p;
  a.in = dy.data();
  a.out = dx.mutable_data();
  a.mask = const_cast<uint8_t*>(mask.data());
  run(a, backend);
  return dx;
}

}  // namespace

void init_dropout(py::module_& m) {
  m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("backend") = "auto");
  m.def("dropout_backward", &dropout_backward, py::arg("dy"), py::arg("mask"), py::arg("p"),
        py::arg("backend") = "auto");
}

}  // namespace dlcore
