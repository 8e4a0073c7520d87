// bfloat16 NumPy arrays (dtype ml_dtypes.bfloat16, 2 bytes, the upper half of
// a float32): the checks of array.h for the bf16 column. The kernels see the
// bits as uint16_t (core/bf16.h). Like float32 inputs, bf16 inputs must
// already have the dtype and be C-contiguous; nothing is converted silently.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/array.h"

namespace dlcore {

// ml_dtypes.bfloat16 as a NumPy dtype (ml_dtypes is a dependency of dlcore;
// imported on first use, with the GIL held).
inline py::dtype bf16_dtype() {
  static py::object dt = py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16"));
  return py::reinterpret_borrow<py::dtype>(dt);
}

inline bool is_bf16_array(py::handle obj) {
  if (!py::isinstance<py::array>(obj)) return false;
  py::dtype dt = py::reinterpret_borrow<py::array>(obj).dtype();
  return dt.itemsize() == 2 && std::string(py::str(dt)) == "bfloat16";
}

inline std::string dtype_name(py::handle obj) {
  if (!py::isinstance<py::array>(obj)) return std::string(py::str(py::type::of(obj).attr("__name__")));
  return std::string(py::str(py::reinterpret_borrow<py::array>(obj).dtype()));
}

// `obj` as a bf16 C-contiguous array of rank `ndim` (-1: any rank).
inline py::array input_bf16(py::handle obj, const char* op, const char* name, int ndim = -1) {
  DLCORE_CHECK_TYPE(py::isinstance<py::array>(obj), op, ": ", name, " must be a numpy.ndarray, got ",
                    std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  DLCORE_CHECK_TYPE(is_bf16_array(arr), op, ": ", name, " must be bfloat16, got ", dtype_name(arr),
                    " (convert explicitly with .astype(dlcore.bfloat16))");
  DLCORE_CHECK(ndim < 0 || arr.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got shape ",
               shape_str(shape_of(arr)));
  DLCORE_CHECK(arr.flags() & py::array::c_style, op, ": ", name, " of shape ", shape_str(shape_of(arr)),
               " is not C-contiguous; pass numpy.ascontiguousarray(", name, ")");
  return arr;
}

inline py::array output_bf16(py::handle obj, const char* op, const char* name, const Shape& expected) {
  py::array arr = input_bf16(obj, op, name);
  DLCORE_CHECK(shape_of(arr) == expected, op, ": ", name, " has shape ", shape_str(shape_of(arr)), ", expected ",
               shape_str(expected));
  DLCORE_CHECK(arr.writeable(), op, ": ", name, " is read-only");
  return arr;
}

inline const uint16_t* bf16_data(const py::array& a) { return static_cast<const uint16_t*>(a.data()); }
inline uint16_t* bf16_mutable_data(py::array& a) { return static_cast<uint16_t*>(a.mutable_data()); }

// A fresh, uninitialized bf16 array (64-byte aligned, as new_f32).
inline py::array new_bf16(const Shape& shape) {
  py::array raw = new_aligned<uint16_t>(shape);
  return raw.attr("view")(bf16_dtype());
}

// "float32" / "bfloat16" / a dtype object -> true for bf16. None -> `dflt`.
inline bool parse_out_dtype_bf16(py::handle obj, const char* op, bool dflt) {
  if (obj.is_none()) return dflt;
  if (py::isinstance<py::str>(obj)) {
    const std::string name = py::str(obj);
    if (name == "bfloat16") return true;
    if (name == "float32") return false;
    throw TypeError(cat(op, ": out_dtype must be float32 or bfloat16, got '", name, "'"));
  }
  py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(obj));
  const std::string s = py::str(dt);
  if (s == "bfloat16" && dt.itemsize() == 2) return true;
  if (s == "float32") return false;
  throw TypeError(cat(op, ": out_dtype must be float32 or bfloat16, got ", s));
}

}  // namespace dlcore
