// CuPy arrays at the C++ entry of dlcore._cuda (host code, GIL held).
//
// Inputs are read through __cuda_array_interface__ (pointer, shape, typestr,
// strides), so any producer of that protocol works; outputs are allocated by
// calling cupy.empty, so their memory comes from CuPy's pool and the result is
// an ordinary CuPy array. Kernels launch on CuPy's current stream.
//
// Policy (same as the CPU module): dtypes are never converted and layouts
// never copied silently. A wrong dtype or a host array raises TypeError, a
// non-contiguous view ValueError, an array on another GPU ValueError.
#pragma once
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <string>

#include "core/check.h"

namespace dlcore {
namespace cuda {
namespace py = pybind11;

enum class DType { F32, I32, I64, U8 };

struct DeviceArray {
  py::object obj;  // the CuPy array (keeps the memory alive)
  void* ptr = nullptr;
  Shape shape;
  DType dtype = DType::F32;
  bool readonly = false;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t nbytes() const;
  float* f32() const { return static_cast<float*>(ptr); }
  int32_t* i32() const { return static_cast<int32_t*>(ptr); }
  int64_t* i64() const { return static_cast<int64_t*>(ptr); }
  uint8_t* u8() const { return static_cast<uint8_t*>(ptr); }
};

const char* dtype_name(DType dt);

// `obj` as a C-contiguous device array of dtype `dt` on CuPy's current
// device, with `ndim` dimensions (-1: any).
DeviceArray device_input(py::handle obj, const char* op, const char* name, DType dt, int ndim = -1);
// Like device_input, for arrays written in place (out=, running statistics):
// also writeable and exactly `expected` in shape.
DeviceArray device_inout(py::handle obj, const char* op, const char* name, DType dt, const Shape& expected);
// A fresh CuPy array (uninitialized / zero-filled) on the current device.
DeviceArray device_empty(const Shape& shape, DType dt);
DeviceArray device_zeros(const Shape& shape, DType dt);

// Raises ValueError when the two arrays' memory overlaps.
void check_no_alias(const DeviceArray& out, const DeviceArray& in, const char* op, const char* out_name,
                    const char* in_name);
// Largest extent a kernel indexes with a 32-bit int.
void check_int32(int64_t value, const char* op, const char* what);

// CuPy's current stream on CuPy's current device; also makes that device
// current for this module's (statically linked) CUDA runtime.
cudaStream_t current_stream();

// Runs the launch `f` with the GIL released (launches are asynchronous, but
// a few of them wait on the stream). Outputs are created before, returned after.
template <class F>
void without_gil(F&& f) {
  py::gil_scoped_release nogil;
  f();
}

// The parameters of ops that take an int or a tuple (stride, padding, ...).
// Accepts an int or a sequence of `n` ints; an int is repeated n times.
std::vector<int64_t> int_tuple(py::handle obj, size_t n, const char* op, const char* name);

}  // namespace cuda
}  // namespace dlcore
