// See device_array.h.
#include "cuda/device_array.h"

#include <pybind11/stl.h>

#include "cuda/error.h"

namespace dlcore {
namespace cuda {

namespace {

// CuPy, imported on first use (never when dlcore itself is imported) and kept
// for the life of the process (a leaked reference: no destructor at exit).
py::module_& cupy() {
  static py::module_* module = new py::module_(py::module_::import("cupy"));
  return *module;
}

const char* typestr_of(DType dt) {
  switch (dt) {
    case DType::F32:
      return "<f4";
    case DType::I32:
      return "<i4";
    case DType::I64:
      return "<i8";
    case DType::U8:
      return "|u1";
  }
  return "?";
}

int64_t itemsize_of(DType dt) {
  switch (dt) {
    case DType::F32:
      return 4;
    case DType::I32:
      return 4;
    case DType::I64:
      return 8;
    case DType::U8:
      return 1;
  }
  return 0;
}

std::string type_name(py::handle obj) {
  py::handle type = py::type::of(obj);
  return py::str(type.attr("__module__")).cast<std::string>() + "." +
         py::str(type.attr("__name__")).cast<std::string>();
}

int cupy_current_device() { return cupy().attr("cuda").attr("runtime").attr("getDevice")().cast<int>(); }

// The GPU holding `ptr`, or raises when it is host memory.
int device_of(const void* ptr, const char* op, const char* name) {
  cudaPointerAttributes attr{};
  cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls are unaffected
    throw_cuda_error(err, "cudaPointerGetAttributes", __FILE__, __LINE__);
  }
  DLCORE_CHECK_TYPE(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged, op, ": ", name,
                    " is not GPU memory");
  return attr.device;
}

}  // namespace

int64_t DeviceArray::nbytes() const { return numel() * itemsize_of(dtype); }

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::F32:
      return "float32";
    case DType::I32:
      return "int32";
    case DType::I64:
      return "int64";
    case DType::U8:
      return "uint8";
  }
  return "?";
}

DeviceArray device_input(py::handle obj, const char* op, const char* name, DType dt, int ndim) {
  DLCORE_CHECK_TYPE(py::hasattr(obj, "__cuda_array_interface__"), op, ": ", name,
                    " must be a CuPy (GPU) array for backend 'cuda', got ", type_name(obj),
                    " (move it with cupy.asarray)");
  py::dict cai = obj.attr("__cuda_array_interface__");
  DeviceArray arr;
  arr.obj = py::reinterpret_borrow<py::object>(obj);
  arr.dtype = dt;
  for (py::handle d : cai["shape"]) arr.shape.push_back(d.cast<int64_t>());
  const std::string typestr = cai["typestr"].cast<std::string>();
  const bool byte_type = dt == DType::U8 && (typestr == "|u1" || typestr == "<u1");
  DLCORE_CHECK_TYPE(typestr == typestr_of(dt) || byte_type, op, ": ", name, " must be ", dtype_name(dt),
                    ", got typestr '", typestr, "' (convert explicitly with .astype(cupy.", dtype_name(dt), "))");
  DLCORE_CHECK(ndim < 0 || arr.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got shape ",
               shape_str(arr.shape));
  py::tuple data = cai["data"];
  arr.ptr = reinterpret_cast<void*>(data[0].cast<uintptr_t>());
  arr.readonly = data[1].cast<bool>();

  // C-contiguous: strides absent, or equal to the packed row-major strides
  // (extents of 1 may carry any stride).
  if (cai.contains("strides") && !cai["strides"].is_none() && arr.numel() > 0) {
    std::vector<int64_t> strides = cai["strides"].cast<std::vector<int64_t>>();
    int64_t expected = itemsize_of(dt);
    for (int i = arr.ndim() - 1; i >= 0; --i) {
      DLCORE_CHECK(arr.shape[i] == 1 || strides[i] == expected, op, ": ", name, " of shape ", shape_str(arr.shape),
                   " is not C-contiguous (a transposed, sliced or reversed view); pass "
                   "cupy.ascontiguousarray(",
                   name, ")");
      expected *= arr.shape[i];
    }
  }
  if (arr.numel() > 0) {
    const int dev = device_of(arr.ptr, op, name), current = cupy_current_device();
    DLCORE_CHECK(dev == current, op, ": ", name, " lives on GPU ", dev, " but CuPy's current device is GPU ", current,
                 " (use `with cupy.cuda.Device(", dev, "):`)");
  }
  return arr;
}

DeviceArray device_inout(py::handle obj, const char* op, const char* name, DType dt, const Shape& expected) {
  DeviceArray arr = device_input(obj, op, name, dt);
  DLCORE_CHECK(arr.shape == expected, op, ": ", name, " has shape ", shape_str(arr.shape), ", expected ",
               shape_str(expected));
  DLCORE_CHECK(!arr.readonly, op, ": ", name, " is read-only");
  return arr;
}

static DeviceArray allocate(const char* how, const Shape& shape, DType dt) {
  py::tuple dims(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dims[i] = py::int_(shape[i]);
  DeviceArray arr;
  arr.obj = cupy().attr(how)(dims, py::arg("dtype") = dtype_name(dt));
  arr.shape = shape;
  arr.dtype = dt;
  arr.ptr = reinterpret_cast<void*>(arr.obj.attr("data").attr("ptr").cast<uintptr_t>());
  return arr;
}

DeviceArray device_empty(const Shape& shape, DType dt) { return allocate("empty", shape, dt); }
DeviceArray device_zeros(const Shape& shape, DType dt) { return allocate("zeros", shape, dt); }

void check_no_alias(const DeviceArray& out, const DeviceArray& in, const char* op, const char* out_name,
                    const char* in_name) {
  if (out.nbytes() == 0 || in.nbytes() == 0) return;
  const auto lo_out = reinterpret_cast<uintptr_t>(out.ptr), lo_in = reinterpret_cast<uintptr_t>(in.ptr);
  const bool overlap = lo_out < lo_in + uintptr_t(in.nbytes()) && lo_in < lo_out + uintptr_t(out.nbytes());
  DLCORE_CHECK(!overlap, op, ": ", out_name, " shares memory with ", in_name, "; pass a separate output buffer");
}

void check_int32(int64_t value, const char* op, const char* what) {
  DLCORE_CHECK(value <= INT32_MAX, op, ": ", what, " = ", value, " exceeds the 32-bit indexing of the CUDA kernels");
}

cudaStream_t current_stream() {
  DLCORE_CUDA_CHECK(cudaSetDevice(cupy_current_device()));
  const uintptr_t handle = cupy().attr("cuda").attr("get_current_stream")().attr("ptr").cast<uintptr_t>();
  return reinterpret_cast<cudaStream_t>(handle);
}

std::vector<int64_t> int_tuple(py::handle obj, size_t n, const char* op, const char* name) {
  if (py::isinstance<py::int_>(obj)) return std::vector<int64_t>(n, obj.cast<int64_t>());
  DLCORE_CHECK_TYPE(py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj), op, ": ", name,
                    " must be an int or a tuple of ints");
  std::vector<int64_t> values = obj.cast<std::vector<int64_t>>();
  DLCORE_CHECK(values.size() == n, op, ": ", name, " must be an int or ", n, " ints, got ", values.size());
  return values;
}

}  // namespace cuda
}  // namespace dlcore
