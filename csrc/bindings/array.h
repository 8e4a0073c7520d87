// Python-object checks shared by every binding: NumPy arrays in, checked
// float32 views out. All of them run with the GIL held, before any kernel.
//
// Policy (documented in README "Kernel API"): inputs must already be
// float32 and C-contiguous; dlcore never converts or copies them silently.
// Other dtypes raise TypeError, non-contiguous or negative-stride views raise
// ValueError that says how to fix it (numpy.ascontiguousarray). `out=`
// buffers must match exactly and are written in place.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/host_cache.h"

namespace dlcore {
namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style>;

inline Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

// `obj` as a float32 C-contiguous array of rank `ndim` (-1: any rank).
inline FloatArray input_f32(py::handle obj, const char* op, const char* name, int ndim = -1) {
  DLCORE_CHECK_TYPE(py::isinstance<py::array>(obj), op, ": ", name, " must be a numpy.ndarray, got ",
                    std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  DLCORE_CHECK_TYPE(arr.dtype().equal(py::dtype::of<float>()), op, ": ", name, " must be float32, got ",
                    std::string(py::str(arr.dtype())), " (convert explicitly with .astype(numpy.float32))");
  DLCORE_CHECK(ndim < 0 || arr.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got shape ",
               shape_str(shape_of(arr)));
  DLCORE_CHECK(arr.flags() & py::array::c_style, op, ": ", name, " of shape ", shape_str(shape_of(arr)),
               " is not C-contiguous (a transposed, sliced or reversed view); pass "
               "numpy.ascontiguousarray(",
               name, ")");
  return py::reinterpret_borrow<FloatArray>(arr);
}

// A caller-provided output buffer: float32, C-contiguous, writeable, exactly
// `expected` in shape. Never replaced by a copy (that would lose the writes).
inline FloatArray output_f32(py::handle obj, const char* op, const char* name, const Shape& expected) {
  FloatArray arr = input_f32(obj, op, name);
  DLCORE_CHECK(shape_of(arr) == expected, op, ": ", name, " has shape ", shape_str(shape_of(arr)), ", expected ",
               shape_str(expected));
  DLCORE_CHECK(arr.writeable(), op, ": ", name, " is read-only");
  return arr;
}

// A fresh, uninitialized C-contiguous array of `shape`, 64-byte aligned (a
// cache line, the widest vector): NumPy's allocator guarantees only 16 bytes,
// and the kernels' non-temporal stores need full-vector alignment.
// Arrays of HostCache::kMinBytes and more come from the host cache
// (core/host_cache.h: blocks kept faulted-in for the next call of the same
// size); the array's base is a capsule that gives the block back. Smaller
// ones, and every one when the cache is off, come from NumPy (a few bytes
// more, viewed at the aligned offset), keeping its heap reuse.
// (A private aligned_alloc + free per call, without the cache, measured 2x
// slower on relu at 51 MB: every call paid fresh page faults.)
template <class T>
py::array_t<T, py::array::c_style> new_aligned(const Shape& shape) {
  constexpr size_t kAlign = 64;
  size_t count = 1;
  for (int64_t d : shape) count *= size_t(d);
  const std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  const size_t bytes = count * sizeof(T);
  HostCache& cache = HostCache::instance();
  if (bytes >= HostCache::kMinBytes && cache.enabled()) {
    struct Block {
      void* ptr;
      size_t bytes;
    };
    auto block = std::make_unique<Block>(Block{cache.allocate(bytes), bytes});
    T* data = static_cast<T*>(block->ptr);
    py::capsule owner(block.get(), [](void* p) {
      std::unique_ptr<Block> b(static_cast<Block*>(p));
      HostCache::instance().release(b->ptr, b->bytes);
    });
    block.release();  // the capsule owns it now
    return py::array_t<T, py::array::c_style>(dims, data, owner);
  }
  py::array_t<uint8_t> raw(py::ssize_t(bytes + kAlign));
  uint8_t* base = raw.mutable_data();
  const size_t offset = (kAlign - reinterpret_cast<uintptr_t>(base) % kAlign) % kAlign;
  return py::array_t<T, py::array::c_style>(dims, reinterpret_cast<T*>(base + offset), raw);
}

// dlcore.host_cache_info / empty_host_cache / set_host_cache_limit, on the
// calling module's cache (each module has its own).
inline void def_host_cache(py::module_& m) {
  m.def("host_cache_info", [] {
    const HostCache::Stats s = HostCache::instance().stats();
    py::dict d;
    d["cached_bytes"] = s.cached_bytes;
    d["cached_blocks"] = s.cached_blocks;
    d["limit"] = s.limit;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    return d;
  });
  m.def("empty_host_cache", [] { HostCache::instance().empty(); });
  m.def("set_host_cache_limit", [](size_t limit) { HostCache::instance().set_limit(limit); }, py::arg("nbytes"));
}

// A fresh, uninitialized float32 array of `shape` (64-byte aligned).
inline FloatArray new_f32(const Shape& shape) { return new_aligned<float>(shape); }

// True when the memory of the two arrays overlaps (out= aliasing an input).
inline bool overlaps(const py::array& a, const py::array& b) {
  if (a.nbytes() == 0 || b.nbytes() == 0) return false;
  auto lo_a = reinterpret_cast<uintptr_t>(a.data()), lo_b = reinterpret_cast<uintptr_t>(b.data());
  return lo_a < lo_b + uintptr_t(b.nbytes()) && lo_b < lo_a + uintptr_t(a.nbytes());
}

inline void check_no_alias(const py::array& out, const py::array& in, const char* op, const char* out_name,
                           const char* in_name) {
  DLCORE_CHECK(!overlaps(out, in), op, ": ", out_name, " shares memory with ", in_name,
               "; pass a separate output buffer");
}

}  // namespace dlcore
