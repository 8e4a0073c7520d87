// Overflow-checked int64 arithmetic for the entry checks' geometry.
//
// Why: hyper-parameters come straight from Python ints. A padding, stride,
// dilation or pool size near 2^62 made `in + 2 * pad - k`, `dilation * (k - 1)`
// or `C * pool` wrap around in plain int64 and pass the checks with a
// negative or tiny value; the kernels then read or wrote out of bounds
// (issue 18: segfaults, an ASan heap-buffer-overflow in maxout_backward, an
// LRN-within "hang" of hours). Every size, product and window computation in
// an entry check goes through these helpers instead, and a result that
// overflows, or that describes an absurd array, raises ValueError naming the
// op and the quantity.
#pragma once
#include <cstdint>

#include "core/check.h"

namespace dlcore {

// The most elements any array or scratch buffer described by a geometry may
// have: 2^48 floats is 1 PiB, more than any machine holds, and small enough
// that the kernels' own products of it with a vector width, a block count or
// sizeof(float) stay far inside int64. Sizes beyond it are refused as absurd
// (ValueError), not attempted (they could only end in MemoryError after an
// unchecked product wrapped).
constexpr int64_t kMaxElements = int64_t(1) << 48;

// The largest stride, padding, dilation or pooling window an entry accepts.
// Larger values are refused as absurd: every useful one is far smaller (an
// image extent), the CUDA kernels index in int32, and with this bound the
// kernels' window arithmetic (start = o * stride - pad, start + kernel,
// products with a vector width) stays far inside int64.
constexpr int64_t kMaxHyperParameter = (int64_t(1) << 31) - 1;

// Checks that each of `values` (a hyper-parameter called `name`) is at most
// kMaxHyperParameter; the range below (positive, non-negative) is the
// caller's check.
template <class Values>
void check_hyper_parameter(const Values& values, const char* op, const char* name) {
  for (int64_t v : values)
    DLCORE_CHECK(v <= kMaxHyperParameter, op, ": ", name, " = ", v, " is absurdly large (the limit is ",
                 kMaxHyperParameter, ")");
}

inline int64_t checked_add(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  DLCORE_CHECK(!__builtin_add_overflow(a, b, &r), op, ": ", what, " overflows int64 (", a, " + ", b, ")");
  return r;
}

inline int64_t checked_sub(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  DLCORE_CHECK(!__builtin_sub_overflow(a, b, &r), op, ": ", what, " overflows int64 (", a, " - ", b, ")");
  return r;
}

inline int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  DLCORE_CHECK(!__builtin_mul_overflow(a, b, &r), op, ": ", what, " overflows int64 (", a, " * ", b, ")");
  return r;
}

// The element count of `shape` (each extent >= 0), refused beyond kMaxElements.
inline int64_t checked_numel(const Shape& shape, const char* op, const char* what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    DLCORE_CHECK(d >= 0, op, ": ", what, " has a negative extent: ", shape_str(shape));
    DLCORE_CHECK(!__builtin_mul_overflow(n, d, &n), op, ": ", what, " of shape ", shape_str(shape),
                 " has more elements than int64 can count");
  }
  // An empty array is fine however large its other extents are.
  if (n == 0) return 0;
  DLCORE_CHECK(n <= kMaxElements, op, ": ", what, " of shape ", shape_str(shape), " would have ", n,
               " elements, more than the ", kMaxElements, " any array may have");
  return n;
}

// checked_numel, ignoring the result: for an array that must merely be sane.
inline void check_numel(const Shape& shape, const char* op, const char* what) { (void)checked_numel(shape, op, what); }

}  // namespace dlcore
