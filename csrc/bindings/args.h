// The one parser of int and int-or-tuple hyper-parameters, shared by every
// extension module (_C, _onednn, _cuda) so that the same call is accepted or
// refused, with the same message, on every backend.
//
// Rules (docs/KERNEL_API.md "Arguments"):
//   * an int is anything with __index__ except bool (True is not a size);
//   * an int outside int64 raises ValueError (not pybind11's "Unable to cast");
//   * a pair parameter is an int (both axes) or a tuple/list of 2 ints;
//   * padding is an int, (ph, pw) or (top, bottom, left, right);
//   * a shape parameter is a tuple/list of exactly `rank` ints.
// Range checks (positive, non-negative, fits the input) belong to the
// family's geometry function (ops/<family>/<family>.h), not here.
#pragma once
#include <pybind11/pybind11.h>

#include <array>
#include <climits>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/epilogue.h"

namespace dlcore {
namespace args {

namespace py = pybind11;

inline std::string type_name(py::handle obj) { return std::string(py::str(py::type::of(obj).attr("__name__"))); }

// activation= of the fused forwards (conv2d_forward, linear_forward): None,
// "none" or "relu" (core/epilogue.h).
inline Activation activation_arg(py::handle obj, const char* op) {
  if (obj.is_none()) return Activation::none;
  DLCORE_CHECK_TYPE(py::isinstance<py::str>(obj), op, ": activation must be None, 'none' or 'relu', got ",
                    type_name(obj));
  const std::string name = py::str(obj);
  if (name == "relu") return Activation::relu;
  DLCORE_CHECK(name == "none", op, ": activation must be None, 'none' or 'relu', got '", name, "'");
  return Activation::none;
}

inline bool is_int(py::handle obj) { return !PyBool_Check(obj.ptr()) && PyIndex_Check(obj.ptr()); }

inline bool is_sequence(py::handle obj) { return py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj); }

// One int; `expected` completes "must be ..." in the TypeError.
inline int64_t int_arg(py::handle obj, const char* op, const char* name, const char* expected = "an int") {
  DLCORE_CHECK_TYPE(is_int(obj), op, ": ", name, " must be ", expected, ", got ", type_name(obj));
  PyObject* index = PyNumber_Index(obj.ptr());
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  DLCORE_CHECK(overflow == 0, op, ": ", name, " = ", std::string(py::str(obj)), " is outside the int64 range");
  return int64_t(v);
}

// An int, or a tuple/list of one of the `sizes` lengths; returns the ints
// as given (one int -> one element).
inline std::vector<int64_t> int_or_tuple(py::handle obj, const char* op, const char* name,
                                         std::initializer_list<size_t> sizes) {
  std::string expected = "an int or a tuple of ";
  for (size_t i = 0; i < sizes.size(); ++i) expected += cat(i ? " or " : "", sizes.begin()[i]);
  expected += " ints";
  if (!is_sequence(obj)) return {int_arg(obj, op, name, expected.c_str())};
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  bool ok = false;
  for (size_t n : sizes) ok = ok || size_t(seq.size()) == n;
  DLCORE_CHECK(ok, op, ": ", name, " must be ", expected, ", got ", seq.size(), " values");
  std::vector<int64_t> out;
  for (py::handle item : seq) out.push_back(int_arg(item, op, name, expected.c_str()));
  return out;
}

// int v -> (v, v); (h, w) -> (h, w).
inline std::array<int64_t, 2> pair_arg(py::handle obj, const char* op, const char* name) {
  const std::vector<int64_t> v = int_or_tuple(obj, op, name, {2});
  return v.size() == 1 ? std::array<int64_t, 2>{v[0], v[0]} : std::array<int64_t, 2>{v[0], v[1]};
}

// int p, (ph, pw) or (top, bottom, left, right) -> (top, bottom, left, right).
inline std::array<int64_t, 4> padding4_arg(py::handle obj, const char* op, const char* name = "padding") {
  const std::vector<int64_t> v = int_or_tuple(obj, op, name, {2, 4});
  if (v.size() == 1) return {v[0], v[0], v[0], v[0]};
  if (v.size() == 2) return {v[0], v[0], v[1], v[1]};
  return {v[0], v[1], v[2], v[3]};
}

// A tuple/list of exactly `rank` ints (an input_shape / weight_shape).
inline Shape shape_arg(py::handle obj, const char* op, const char* name, size_t rank) {
  DLCORE_CHECK_TYPE(is_sequence(obj), op, ": ", name, " must be a tuple of ", rank, " ints, got ", type_name(obj));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  DLCORE_CHECK(size_t(seq.size()) == rank, op, ": ", name, " must have ", rank, " entries, got ", seq.size());
  Shape out;
  for (py::handle item : seq) out.push_back(int_arg(item, op, name, "a tuple of ints"));
  return out;
}

}  // namespace args
}  // namespace dlcore
