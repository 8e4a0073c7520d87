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
#include <cstdint>
#include <string>

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

  int64_t front() const { return size / 2; }        // window reach before i
  int64_t back() const { return (size - 1) / 2; }   // window reach after i
  float scaled_alpha() const {
    if (!alpha_over_size) return alpha;
    return float(double(alpha) / double(across ? size : size * size));
  }
  int64_t plane() const { return h * w; }
};

const Registry<LrnArgs>& lrn_forward_registry();
const Registry<LrnArgs>& lrn_backward_registry();

// Per-ISA kernel bodies (lrn_kernels.h for one vector type); the OpenMP
// drivers in lrn.cpp split work units over threads.
struct LrnKernels {
  // Across, forward: units are (image, block of `cblock` channels, chunk of
  // `chunk` positions).
  void (*across_forward)(const LrnArgs&, int64_t begin, int64_t end);
  // Across, backward: units are (image, chunk of `chunk` positions).
  // scratch: 2 * C * chunk floats.
  void (*across_backward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
  // Within: units are (n, c) planes; scratch: within_scratch_floats(args).
  void (*within_forward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
  void (*within_backward)(const LrnArgs&, int64_t begin, int64_t end, float* scratch);
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
