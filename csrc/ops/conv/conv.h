// 2-D convolution, forward / backward-data / backward-weights (issue 3).
//
// Public layout: NCHW activations, OIHW weights (I = input channels per
// group), float32, C-contiguous. The entry points in bindings/bind_conv.cpp
// check everything and fill a ConvShape; kernels trust it.
//
//   y[n, o, oh, ow] = bias[o] + sum_{c, kh, kw} x[n, g*ICg + c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]
//                                              * w[o, c, kh, kw]        (g = o / OCg; x = 0 outside)
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/checked.h"
#include "dispatch/registry.h"

namespace dlcore {

struct ConvShape {
  int64_t n = 0;                           // minibatch
  int64_t ic = 0, ih = 0, iw = 0;          // input channels (all groups) and spatial size
  int64_t oc = 0, oh = 0, ow = 0;          // output channels (all groups) and spatial size
  int64_t kh = 0, kw = 0;                  // kernel size
  int64_t sh = 1, sw = 1;                  // stride
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding: top, bottom, left, right
  int64_t dh = 1, dw = 1;                  // dilation
  int64_t groups = 1;

  int64_t icg() const { return ic / groups; }
  int64_t ocg() const { return oc / groups; }
  std::string str() const {  // for error messages and DLCORE_VERBOSE
    return cat("x (", n, ", ", ic, ", ", ih, ", ", iw, "), w (", oc, ", ", icg(), ", ", kh, ", ", kw, "), y (", n, ", ",
               oc, ", ", oh, ", ", ow, "), stride (", sh, ", ", sw, "), padding (", pt, ", ", pb, ", ", pl, ", ", pr,
               "), dilation (", dh, ", ", dw, "), groups ", groups);
  }
};

// Output extent along one axis, in overflow-checked int64: (in + pad_lo +
// pad_hi - span) / stride + 1 with span = dilation * (k - 1) + 1, or 0 when the
// dilated kernel does not fit in the padded input. Needs k, stride,
// dilation >= 1 and pads >= 0.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_lo, int64_t pad_hi, int64_t dilation,
                             const char* op = "conv2d") {
  const int64_t span = checked_add(checked_mul(dilation, k - 1, op, "the dilated kernel"), 1, op, "the dilated kernel");
  const int64_t padded = checked_add(checked_add(in, pad_lo, op, "the padded input"), pad_hi, op, "the padded input");
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

// The one convolution check: input `xs` (NCHW) and weight `ws` (OIHW) with
// stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw) and
// groups, every hyper-parameter and shape relation checked (ValueError naming
// the shapes), the output size filled in. Used by _C, _onednn, _cuda and,
// through _C.conv_geometry, the Python float64 path. Edge rules
// (docs/KERNEL_API.md): N may be 0; C, H, W and every weight extent >= 1;
// stride, padding and dilation at most kMaxHyperParameter (2^31 - 1);
// a dilated kernel larger than the padded input is a ValueError; the input,
// its padded form, the weight and the output must be sane arrays
// (core/checked.h).
inline ConvShape make_conv_shape(const Shape& xs, const Shape& ws, const std::array<int64_t, 2>& st,
                                 const std::array<int64_t, 4>& pa, const std::array<int64_t, 2>& di, int64_t groups,
                                 const char* op) {
  DLCORE_CHECK(xs.size() == 4, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(xs));
  DLCORE_CHECK(ws.size() == 4, op, ": weight must be 4-D (O, I/groups, KH, KW), got shape ", shape_str(ws));
  const std::string shapes = cat("input ", shape_str(xs), ", weight ", shape_str(ws));
  DLCORE_CHECK(st[0] >= 1 && st[1] >= 1, op, ": stride must be positive, got (", st[0], ", ", st[1], ")");
  DLCORE_CHECK(di[0] >= 1 && di[1] >= 1, op, ": dilation must be positive, got (", di[0], ", ", di[1], ")");
  DLCORE_CHECK(pa[0] >= 0 && pa[1] >= 0 && pa[2] >= 0 && pa[3] >= 0, op, ": padding must be non-negative, got (", pa[0],
               ", ", pa[1], ", ", pa[2], ", ", pa[3], ")");
  DLCORE_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  check_hyper_parameter(st, op, "stride");
  check_hyper_parameter(pa, op, "padding");
  check_hyper_parameter(di, op, "dilation");
  DLCORE_CHECK(xs[0] >= 0 && xs[1] > 0 && xs[2] > 0 && xs[3] > 0, op,
               ": input must have non-empty channels and spatial size, got ", shapes);
  DLCORE_CHECK(ws[0] > 0 && ws[1] > 0 && ws[2] > 0 && ws[3] > 0, op, ": weight must not be empty, got ", shapes);
  check_numel({std::max<int64_t>(xs[0], 1), xs[1], xs[2], xs[3]}, op, "input");
  check_numel(ws, op, "weight");
  DLCORE_CHECK(xs[1] % groups == 0, op, ": input channels ", xs[1], " are not divisible by groups=", groups, " (",
               shapes, ")");
  DLCORE_CHECK(ws[0] % groups == 0, op, ": output channels ", ws[0], " are not divisible by groups=", groups, " (",
               shapes, ")");
  DLCORE_CHECK(ws[1] == xs[1] / groups, op, ": weight has ", ws[1], " input channels per group but input has ", xs[1],
               " channels in ", groups, " group(s) (expected weight.shape[1] == ", xs[1] / groups, "; ", shapes, ")");
  ConvShape s;
  s.n = xs[0];
  s.ic = xs[1];
  s.ih = xs[2];
  s.iw = xs[3];
  s.oc = ws[0];
  s.kh = ws[2];
  s.kw = ws[3];
  s.sh = st[0];
  s.sw = st[1];
  s.pt = pa[0];
  s.pb = pa[1];
  s.pl = pa[2];
  s.pr = pa[3];
  s.dh = di[0];
  s.dw = di[1];
  s.groups = groups;
  s.oh = conv_out_size(s.ih, s.kh, s.sh, s.pt, s.pb, s.dh, op);
  s.ow = conv_out_size(s.iw, s.kw, s.sw, s.pl, s.pr, s.dw, op);
  DLCORE_CHECK(s.oh > 0 && s.ow > 0, op, ": the kernel (", s.kh, "x", s.kw, ", dilation (", s.dh, ", ", s.dw,
               ") spans ", s.dh * (s.kh - 1) + 1, "x", s.dw * (s.kw - 1) + 1, ") is larger than the padded input ",
               s.ih + s.pt + s.pb, "x", s.iw + s.pl + s.pr, " (", shapes, ", padding (", s.pt, ", ", s.pb, ", ", s.pl,
               ", ", s.pr, "))");
  // The blocked kernels copy the padded input: it must be a sane array too.
  check_numel({std::max<int64_t>(s.n, 1), s.ic, s.ih + s.pt + s.pb, s.iw + s.pl + s.pr}, op, "the padded input");
  check_numel({std::max<int64_t>(s.n, 1), s.oc, s.oh, s.ow}, op, "output");
  return s;
}

// dy of a backward call: exactly the forward output of geometry `s` (`geometry` says what gave it).
inline void check_conv_dy(const Shape& dy, const ConvShape& s, const char* op, const char* geometry) {
  const Shape expected{s.n, s.oc, s.oh, s.ow};
  DLCORE_CHECK(dy == expected, op, ": dy has shape ", shape_str(dy), " but ", geometry, " give an output of shape ",
               shape_str(expected), " (", s.str(), ")");
}

// The (OC,) bias of a forward call with weight `ws`.
inline void check_conv_bias(const Shape& bias, const ConvShape& s, const Shape& ws, const char* op) {
  DLCORE_CHECK(bias == Shape{s.oc}, op, ": bias has shape ", shape_str(bias), ", expected (", s.oc, ",) for weight ",
               shape_str(ws));
}

struct ConvForwardArgs {
  ConvShape s;
  const float* x = nullptr;     // (N, IC, IH, IW)
  const float* w = nullptr;     // (OC, ICg, KH, KW)
  const float* bias = nullptr;  // (OC,) or null
  float* y = nullptr;           // (N, OC, OH, OW), fully written
  // Fused ReLU (issue 17): y = relu(conv + bias), applied by every entry where
  // its output tile is still in registers or L1 (core/epilogue.h).
  bool relu = false;
};

struct ConvBackwardDataArgs {
  ConvShape s;
  const float* dy = nullptr;  // (N, OC, OH, OW)
  const float* w = nullptr;   // (OC, ICg, KH, KW)
  float* dx = nullptr;        // (N, IC, IH, IW), fully written
};

struct ConvBackwardWeightsArgs {
  ConvShape s;
  const float* x = nullptr;   // (N, IC, IH, IW)
  const float* dy = nullptr;  // (N, OC, OH, OW)
  float* dw = nullptr;        // (OC, ICg, KH, KW), fully written
  float* db = nullptr;        // (OC,) or null: no bias gradient wanted
};

const Registry<ConvForwardArgs>& conv2d_forward_registry();
const Registry<ConvBackwardDataArgs>& conv2d_backward_data_registry();
const Registry<ConvBackwardWeightsArgs>& conv2d_backward_weights_registry();

// Per-calling-thread scratch memory (64-byte aligned, grow-only, contents
// undefined), one buffer per `slot` (0..kConvScratchSlots-1). Defined in
// baseline code (conv.cpp) so that ISA-flagged files never instantiate the
// allocator (inline code in them could be merged into baseline callers).
constexpr int kConvScratchSlots = 5;
float* conv_scratch(int slot, size_t count);
// Test hook: fills this thread's scratch with NaN, so that a later call that
// forgets to write part of a blocked layout (padding, channel tails) shows up
// as NaN in its result instead of silently reusing an earlier call's values.
void conv_poison_scratch();

// ---------------------------------------------------------------------------
// The algorithms, each its own registry entry per ISA (conv.cpp lists them,
// fastest first; each declines what it cannot run, with the reason):
//   gemm1x1   a 1x1 unpadded convolution as GEMMs on NCHW (no reorder)
//   depthwise one input channel and few outputs per group (depthwise_kernels.h)
//   narrow    forward / backward-weights with ICg <= 4 (RGB, grey input; <= 8 on AVX-512)
//   fold      outputs of <= kFoldMaxPixels pixels as GEMMs over the minibatch (conv_fold.cpp)
//   col2im    backward-data with ICg <= 4 as GEMM + col2im (conv_col2im.cpp)
//   gather    backward-data at stride 1 as a forward convolution of dy
//   blocked   the channel-blocked direct convolution (accepts everything)
// ---------------------------------------------------------------------------

inline bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.pt == 0 && s.pb == 0 && s.pl == 0 && s.pr == 0;
}
// Depthwise (as in MobileNet): one input channel per group and few outputs
// per group. With more outputs per group the narrow blocked path fills its
// W-lane output blocks well.
inline bool use_depthwise(const ConvShape& s) { return s.icg() == 1 && s.ocg() <= 4 && s.groups > 1; }
// Narrow inputs: 1 (grey), 3 (RGB) channels per group, or a few more. The
// narrow forward and backward-weights kernels take exactly ICg channels as
// the input block, where the channel-blocked ones pad it to a whole vector.
// Up to 4 on every ISA, up to half a vector (8) on AVX-512, whose 16-lane
// blocks would otherwise spend most FMAs on padding (LeNet's conv2 reads 6
// channels). Zen 4, 2 threads, batch 64, ms narrow vs blocked, 2026-12-05:
// 6 -> 16 channels 5x5 at 14x14 forward 0.20 vs 0.46, backward weights
// 0.41 vs 0.53; 8 -> 16 0.24 vs 0.45, 0.51 vs 0.54; 6 -> 32 3x3 at 28x28
// 1.10 vs 2.51, 2.19 vs 2.61; 5 -> 40 3x3 at 17x17 0.49 vs 1.28, 1.42 vs
// 2.35. (AVX2's 8-lane blocks waste at most half: not measured there.)
constexpr int64_t kNarrowChannels = 4;
constexpr int64_t narrow_channels(int width) { return width / 2 > kNarrowChannels ? width / 2 : kNarrowChannels; }
inline bool use_narrow(const ConvShape& s, int width) { return s.icg() <= narrow_channels(width); }
// Backward data as GEMM + col2im (conv_col2im.cpp): inputs of up to 4
// channels per group on every ISA. Not up to 8 on AVX-512: the GEMM's k is
// OCg, and at LeNet's conv2 (16 outputs) it measured slower than the gather
// form (6 -> 16 channels 0.70 vs 0.58 ms, 8 -> 16 0.91 vs 0.58).
inline bool use_col2im(const ConvShape& s) { return s.icg() <= kNarrowChannels; }
// Backward data at stride 1 is a forward convolution of dy padded by the
// dilated kernel extent minus the forward padding: needs pad <= dilation * (k - 1).
inline bool backward_data_as_forward(const ConvShape& s) {
  const int64_t eh = s.dh * (s.kh - 1), ew = s.dw * (s.kw - 1);
  return s.sh == 1 && s.sw == 1 && s.pt <= eh && s.pb <= eh && s.pl <= ew && s.pr <= ew;
}

// One ISA's direct algorithms (conv_avx2.cpp / conv_avx512.cpp instantiate
// conv_kernels.h); the 1x1-as-GEMM ones live in conv.cpp.
struct ConvAlgorithms {
  void (*forward_depthwise)(const ConvForwardArgs&);
  void (*forward_narrow)(const ConvForwardArgs&);
  void (*forward_blocked)(const ConvForwardArgs&);
  void (*backward_data_depthwise)(const ConvBackwardDataArgs&);
  void (*backward_data_gather)(const ConvBackwardDataArgs&);
  void (*backward_data_scatter)(const ConvBackwardDataArgs&);
  void (*backward_weights_depthwise)(const ConvBackwardWeightsArgs&);
  void (*backward_weights_narrow)(const ConvBackwardWeightsArgs&);
  void (*backward_weights_blocked)(const ConvBackwardWeightsArgs&);
};
const ConvAlgorithms& conv_algorithms_avx2();
const ConvAlgorithms& conv_algorithms_avx512();

// Backward data as GEMM + col2im (conv_col2im.cpp): the column gradients
// w_g^T . dy_g by dlcore::gemm on `backend`, then added into dx. The
// registry uses it for narrow inputs (use_col2im): every lane does work.
void conv2d_backward_data_col2im(const ConvBackwardDataArgs& a, const char* backend);
// Small images as GEMMs over the minibatch (conv_fold.cpp): outputs of at
// most kFoldMaxPixels pixels (OH*OW), all three passes, dead taps dropped;
// the GEMMs by dlcore::gemm on `backend`.
// Up to 2x2 (Zen 4, 2 threads, batch 64, ms forward / backward-data /
// backward-weights, fold vs blocked direct: 512 -> 512 at 1x1 0.58/0.53/0.73
// vs 5.3/5.7/4.7; 256 -> 256 at 2x2 1.5/1.6/2.0 vs 6.6/3.1/2.9; but
// 128 -> 128 at 4x4 3.6/3.7/4.2 vs 2.1/2.0/1.9: 16 GEMMs of 64 columns).
constexpr int64_t kFoldMaxPixels = 4;
bool use_fold(const ConvShape& s);
void conv2d_forward_fold(const ConvForwardArgs& a, const char* backend);
void conv2d_backward_data_fold(const ConvBackwardDataArgs& a, const char* backend);
void conv2d_backward_weights_fold(const ConvBackwardWeightsArgs& a, const char* backend);
// db[o] = sum over n, oh, ow of dy[n, o, oh, ow] (conv.cpp).
void bias_gradient_ref(const float* dy, float* db, const ConvShape& s);

// dx planes of `nb` images (dx at the first) from their column gradients,
// (image n, group g) at dcols + (n*groups + g)*K*P, row (c*KH + kh)*KW + kw
// (K = ICg*KH*KW, P = OH*OW). Each element sums its taps in (kh, kw) order,
// on the tile pool: results do not depend on the thread count.
void conv_col2im(const ConvShape& s, const float* dcols, int64_t nb, float* dx);

}  // namespace dlcore
