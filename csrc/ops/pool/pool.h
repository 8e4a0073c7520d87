// 2-D max and average pooling over NCHW float32 tensors, forward and backward.
//
// Geometry follows PyTorch (torch.nn.functional.max_pool2d / avg_pool2d):
//   OH = floor_or_ceil((H + 2*ph - kh) / sh) + 1, and with ceil_mode the last
//   window is dropped when it would start in the bottom/right padding
//   ((OH-1)*sh >= H + ph). Padding may be at most half the kernel, so every
//   window holds at least one input element (no window lies entirely in
//   padding; the max and the exclude-padding average are always defined).
// Max-pool indices are int32 flat offsets h*W + w within each (n, c) plane.
// On ties the first (lowest) index wins; NaN counts as larger than any number
// (it propagates, with the index of the first NaN in the window).
// Average pooling divides by the window clipped to [-p, H+p) when
// count_include_pad, else by the number of input elements in the window.
#pragma once
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <string>

#include "core/check.h"
#include "core/checked.h"
#include "dispatch/registry.h"

namespace dlcore {

struct PoolGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t oh = 0, ow = 0;              // output
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only

  int64_t planes() const { return n * c; }
  int64_t in_plane() const { return h * w; }
  int64_t out_plane() const { return oh * ow; }
};

// Output extent along one axis: PyTorch's pooling_output_shape (ATen
// native/Pool.h), in overflow-free int64. Needs k >= 1, s >= 1, 0 <= p <= k/2;
// returns <= 0 when no window fits.
//   out = floor((in + 2p - k + (ceil_mode ? s - 1 : 0)) / s) + 1, minus 1 with
//   ceil_mode when that last window would start in the bottom/right padding
//   ((out - 1) * s >= in + p). So with ceil_mode a kernel larger than the input
//   still gives one (clipped) window, as torch's (SqueezeNet's late pools).
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);    // all terms < 2^32: no overflow
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;  // floor division, as ATen's div_rtn
  if (out <= 0) return out;
  int64_t start;
  if (ceil_mode && (__builtin_mul_overflow(out - 1, s, &start) || start >= in + p)) --out;
  return out;
}

// Validates the hyper-parameters against an input of (n, c, h, w) and fills
// in the output size; throws ValueError naming `op` and the shapes. The one
// pooling rule: _C, _onednn, _cuda and the Python float64 path (through
// _C.pool_geometry) all call it. Edge rules (docs/KERNEL_API.md):
//   * N may be 0 (an empty output of the same geometry); C, H, W >= 1;
//   * kernel_size, stride >= 1; 0 <= padding <= kernel_size / 2, so that no
//     window lies entirely in padding; none above kMaxHyperParameter (2^31 - 1);
//   * no window fitting the padded input is a ValueError (no empty output);
//   * input and output must be sane arrays (core/checked.h), and an input
//     plane must fit int32 indices.
inline PoolGeom make_pool_geom(const char* op, const Shape& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                               int64_t ph, int64_t pw, bool ceil_mode) {
  DLCORE_CHECK(x.size() == 4, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(x));
  DLCORE_CHECK(kh > 0 && kw > 0, op, ": kernel_size must be positive, got (", kh, ", ", kw, ")");
  DLCORE_CHECK(sh > 0 && sw > 0, op, ": stride must be positive, got (", sh, ", ", sw, ")");
  DLCORE_CHECK(ph >= 0 && pw >= 0, op, ": padding must be non-negative, got (", ph, ", ", pw, ")");
  check_hyper_parameter(std::array<int64_t, 2>{kh, kw}, op, "kernel_size");
  check_hyper_parameter(std::array<int64_t, 2>{sh, sw}, op, "stride");
  check_hyper_parameter(std::array<int64_t, 2>{ph, pw}, op, "padding");
  DLCORE_CHECK(ph <= kh / 2 && pw <= kw / 2, op, ": padding (", ph, ", ", pw, ") must be at most half of kernel_size (",
               kh, ", ", kw, ") so that no window lies entirely in padding");
  DLCORE_CHECK(x[0] >= 0 && x[1] > 0 && x[2] > 0 && x[3] > 0, op, ": input of shape ", shape_str(x),
               " must have non-empty C, H and W (N may be 0)");
  check_numel({std::max<int64_t>(x[0], 1), x[1], x[2], x[3]}, op, "input");
  DLCORE_CHECK(x[2] * x[3] <= INT32_MAX, op, ": an input plane of ", x[2], " x ", x[3],
               " elements does not fit int32 indices");
  PoolGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.ph = ph, g.pw = pw, g.ceil_mode = ceil_mode;
  g.oh = pool_output_size(g.h, kh, sh, ph, ceil_mode);
  g.ow = pool_output_size(g.w, kw, sw, pw, ceil_mode);
  DLCORE_CHECK(g.oh > 0 && g.ow > 0, op, ": kernel_size (", kh, ", ", kw, ") with padding (", ph, ", ", pw,
               ") is larger than the padded input of shape ", shape_str(x), " (output would be ", g.oh, " x ", g.ow,
               ")");
  check_numel({std::max<int64_t>(g.n, 1), g.c, g.oh, g.ow}, op, "output");
  return g;
}

// dy of a backward call: exactly the pooled shape `expected` of `input`.
inline void check_pool_dy(const Shape& dy, const Shape& expected, const Shape& input, const char* op) {
  DLCORE_CHECK(dy == expected, op, ": dy has shape ", shape_str(dy), ", expected the pooled shape ",
               shape_str(expected), " of input ", shape_str(input));
}

struct PoolArgs {
  PoolGeom g;
  const float* x = nullptr;    // forward input (N, C, H, W)
  float* y = nullptr;          // forward output (N, C, OH, OW)
  int32_t* indices = nullptr;  // max: written by forward, read by backward
  const int32_t* indices_in = nullptr;
  const float* dy = nullptr;  // backward input (N, C, OH, OW)
  float* dx = nullptr;        // backward output (N, C, H, W)
  // max_pool2d_backward: number of indices outside [0, H*W) (skipped); the
  // entry raises ValueError when it is not zero. Mutable: set by the kernel.
  mutable int64_t bad_indices = 0;
};

const Registry<PoolArgs>& max_pool2d_forward_registry();
const Registry<PoolArgs>& max_pool2d_backward_registry();
const Registry<PoolArgs>& avg_pool2d_forward_registry();
const Registry<PoolArgs>& avg_pool2d_backward_registry();

// Per-ISA kernel bodies (pool_kernels.h instantiated for one vector type).
// Each processes a contiguous range of work units; the OpenMP loops that
// split the units over threads live in pool.cpp (baseline code).
struct PoolKernels {
  // Units: flattened output rows (plane * OH + oh).
  void (*max_forward_rows)(const PoolArgs&, int64_t begin, int64_t end);
  void (*avg_forward_rows)(const PoolArgs&, int64_t begin, int64_t end);
  // Units: (n, c) planes. Returns the number of out-of-range indices skipped.
  int64_t (*max_backward_planes)(const PoolArgs&, int64_t begin, int64_t end);
  // Units: planes; `scratch` holds OH * W floats.
  void (*avg_backward_planes)(const PoolArgs&, int64_t begin, int64_t end, float* scratch);
  // The forward rows by gathered loads, for any stride (the entries above use
  // shuffle loads for strides 1 and 2: separate registry entries, pool.cpp).
  void (*max_forward_rows_gather)(const PoolArgs&, int64_t begin, int64_t end);
  void (*avg_forward_rows_gather)(const PoolArgs&, int64_t begin, int64_t end);
};

const PoolKernels& pool_kernels_ref();
const PoolKernels& pool_kernels_avx2();
const PoolKernels& pool_kernels_avx512();

}  // namespace dlcore
