// Local response normalization over NCHW float32 tensors, forward and exact
// backward.
//
//   y_i = x_i * s_i^(-beta),   s_i = k + a * sum_{j in W(i)} x_j^2
//   a = alpha / n (alpha_over_size, the PyTorch / Caffe / oneDNN convention)
//       or alpha itself (alpha_over_size = false, the TensorFlow-style one);
//   n = size across channels, size*size within a channel (constant, including
//       windows clipped at the border, as PyTorch's avg-pool and Caffe do).
// The window W(i) of size `size` reaches size/2 before i and (size-1)/2 after
// it (PyTorch's local_response_norm; for odd sizes, the only ones networks
// use, it is centred and Caffe, oneDNN and PyTorch agree). Across channels it
// runs over c; within a channel it is the size x size box around (h, w).
//
// Exact gradient (W'(j) = the mirrored window, the i with j in W(i)):
//   dx_j = dy_j s_j^-beta - 2 a beta x_j * sum_{i in W'(j)} dy_i x_i s_i^(-beta-1)
// Requires k > 0 and alpha >= 0 so that s >= k > 0.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/checked.h"

#include "dispatch/registry.h"

namespace dlcore {

struct LrnArgs {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 1.0f;
  bool across = true;
  bool alpha_over_size = true;
  const float* x = nullptr;
  const float* dy = nullptr;  // backward
  float* y = nullptr;         // forward output
  float* dx = nullptr;        // backward output
  // Across channels: spatial positions and (forward) channels per work unit
  // (set by the driver).
  int64_t chunk = 0;
  int64_t cblock = 0;

  // Window reaches beyond the data change nothing (the window is clipped), so
  // they are capped at `max_reach` (the extent - 1, set by make_lrn_args):
  // a huge size then costs nothing instead of an hours-long zero fill.
  int64_t max_reach = INT64_MAX;
  int64_t front() const { return std::min(size / 2, max_reach); }       // window reach before i
  int64_t back() const { return std::min((size - 1) / 2, max_reach); }  // window reach after i
  float scaled_alpha() const {
    if (!alpha_over_size) return alpha;
    // size * size in double: it overflows int64 from size = 2^31.5.
    return float(double(alpha) / (across ? double(size) : double(size) * double(size)));
  }
  int64_t plane() const { return h * w; }
};

// The one LRN check, shared by _C, _onednn and _cuda (plain C++): x of shape
// (N, C, H, W) (any extent may be 0: an empty result), size >= 1, alpha
// finite >= 0, beta finite, k finite > 0 and not 0 in float32. Returns the
// arguments with the geometry filled in (pointers left null).
inline LrnArgs make_lrn_args(const char* op, const Shape& x, int64_t size, double alpha, double beta, double k,
                             const std::string& region, bool alpha_over_size) {
  DLCORE_CHECK(x.size() == 4, op, ": x must be 4-D (N, C, H, W), got shape ", shape_str(x));
  DLCORE_CHECK(region == "across" || region == "within", op, ": region must be 'across' or 'within', got '", region,
               "'");
  DLCORE_CHECK(size >= 1, op, ": size must be >= 1, got ", size);
  DLCORE_CHECK(std::isfinite(alpha) && alpha >= 0.0, op, ": alpha must be finite and >= 0, got ", alpha);
  DLCORE_CHECK(std::isfinite(beta), op, ": beta must be finite, got ", beta);
  DLCORE_CHECK(std::isfinite(k) && k > 0.0, op, ": k must be finite and > 0 (so that k + alpha*sum > 0), got ", k);
  DLCORE_CHECK(float(k) > 0.0f, op, ": k = ", k, " rounds to 0 in float32");
  DLCORE_CHECK(std::isfinite(float(alpha)) && std::isfinite(float(beta)) && std::isfinite(float(k)), op,
               ": alpha, beta and k must be finite in float32, got ", alpha, ", ", beta, ", ", k);
  check_numel(x, op, "x");
  LrnArgs a;
  a.n = x[0], a.c = x[1], a.h = x[2], a.w = x[3];
  a.size = size;
  a.alpha = float(alpha), a.beta = float(beta), a.k = float(k);
  a.across = region == "across";
  a.alpha_over_size = alpha_over_size;
  a.max_reach = std::max<int64_t>(0, (a.across ? a.c : std::max(a.h, a.w)) - 1);
  return a;
}

const Registry<LrnArgs>& lrn_forward_registry();
const Registry<LrnArgs>& lrn_backward_registry();

// Per-ISA kernel bodies (lrn_kernels.h for one vector type); the OpenMP
// drivers in lrn.cpp split work units over threads.
struct LrnKernels {
  // Across, forward: units are (image, block of `cblock` channels, chunk of
  // `chunk` positions).
  // Each returns true when some s = k + a*sum overflowed float32 (lrn.cpp
  // then recomputes the call in double precision).
  bool (*across_forward)(const LrnArgs&, int64_t begin, int64_t end);
  // Across, backward: units are (image, chunk of `chunk` positions).
  // scratch: 2 * C * chunk floats.
  bool (*across_backward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
  // Within: units are (n, c) planes; scratch: within_scratch_floats(args).
  bool (*within_forward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
  bool (*within_backward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
  // out[i] = s[i]^(-beta), the vector power itself (a test hook).
  void (*power)(const float* s, float* out, int64_t count, float beta);
};

const LrnKernels& lrn_kernels_ref();
const LrnKernels& lrn_kernels_avx2();
const LrnKernels& lrn_kernels_avx512();

// The kernel table for "ref" / "avx2" / "avx512" / "auto" (the best this CPU
// runs); BackendError when it cannot run here.
const LrnKernels& lrn_kernels_for(const std::string& backend);

}  // namespace dlcore
