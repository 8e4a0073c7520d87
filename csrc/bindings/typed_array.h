// Non-float32 inputs (int32 indices, int64 targets, uint8 masks), checked the
// same way as input_f32 in array.h: exact dtype (TypeError otherwise), rank,
// C-contiguity (ValueError); never converted silently.
#pragma once
#include "bindings/array.h"

namespace dlcore {

template <class T>
py::array_t<T, py::array::c_style> input_typed(py::handle obj, const char* op, const char* name, int ndim = -1) {
  DLCORE_CHECK_TYPE(py::isinstance<py::array>(obj), op, ": ", name, " must be a numpy.ndarray, got ",
                    std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().equal(py::dtype::of<T>())) {  // the name only on failure: str(dtype) costs ~5 us a call
    const std::string want = py::str(py::dtype::of<T>());
    throw TypeError(cat(op, ": ", name, " must be ", want, ", got ", std::string(py::str(arr.dtype())),
                        " (convert explicitly with .astype(numpy.", want, "))"));
  }
  DLCORE_CHECK(ndim < 0 || arr.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got shape ",
               shape_str(shape_of(arr)));
  DLCORE_CHECK(arr.flags() & py::array::c_style, op, ": ", name, " of shape ", shape_str(shape_of(arr)),
               " is not C-contiguous; pass numpy.ascontiguousarray(", name, ")");
  return py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(arr);
}

// Product of the dimensions [from, to) of `s`.
inline int64_t dims_product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace dlcore
