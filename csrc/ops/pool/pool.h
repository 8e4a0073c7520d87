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
#include <cstdint>
#include <string>

#include "core/check.h"
#include "dispatch/registry.h"

namespace dlcore {

struct PoolGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;     // input
  int64_t oh = 0, ow = 0;                 // output
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;          // average pooling only

  int64_t planes() const { return n * c; }
  int64_t in_plane() const { return h * w; }
  int64_t out_plane() const { return oh * ow; }
};

// Validates the hyper-parameters against an input of (n, c, h, w) and fills
// in the output size. Throws ValueError naming `op` and the shapes.
PoolGeom make_pool_geom(const char* op, const Shape& input_shape, int64_t kh, int64_t kw, int64_t sh,
                        int64_t sw, int64_t ph, int64_t pw, bool ceil_mode);

struct PoolArgs {
  PoolGeom g;
  const float* x = nullptr;     // forward input (N, C, H, W)
  float* y = nullptr;           // forward output (N, C, OH, OW)
  int32_t* indices = nullptr;   // max: written by forward, read by backward
  const int32_t* indices_in = nullptr;
  const float* dy = nullptr;    // backward input (N, C, OH, OW)
  float* dx = nullptr;          // backward output (N, C, H, W)
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
};

const PoolKernels& pool_kernels_ref();
const PoolKernels& pool_kernels_avx2();
const PoolKernels& pool_kernels_avx512();

}  // namespace dlcore
