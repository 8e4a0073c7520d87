// XNOR-Net binary kernels: sign bits packed 64 to a word, dot products of
// +-1 vectors as  n - 2 * popcount(x XOR w)  (x, w in {-1, +1}; bit 1 = +1).
//
// Packing (binary_pack_*): bit b of word q of a row holds sign(v[64q + b]),
// 1 for v >= 0 and 0 for v < 0 (sign(0) = +1, the convention of the training
// layers too); the bits past the row's end are 0 in every packed row, so
// x XOR w is 0 there and they add nothing to the popcount.
//
// Convolution: x packed along channels per pixel, NHWC-like (N, IH, IW, G*WCg)
// with WCg = ceil(ICg / 64) words per group; w (OC, KH, KW, WCg). The kernels
// run it as an implicit GEMM over bits (binary_kernels.h). Padding, the
// documented choice: a tap outside the image enters as 0 bits, and the count
// is corrected exactly: popcount(0 XOR w) = popcount(w) of that tap's weights
// is subtracted (a per-call table over the border patterns x OC, from the
// packed weights) and the +-1 count uses only the valid taps (n = valid taps *
// ICg). This equals a float sign-convolution with zero padding (a padded 0
// contributes 0 * w = 0), not sign(0) = +1 padding. Output, fused epilogue:
//   y[n, o, oh, ow] = scale[o] * dot + bias[o]   (float32; scale 1, bias 0
// give the integer dot itself, exact below 2^24).
#pragma once
#include <cstdint>

#include "dispatch/registry.h"
#include "ops/conv/conv.h"

namespace dlcore {

struct BinaryConvArgs {
  ConvShape s;
  int64_t wcg = 0;               // words per group per pixel
  const uint64_t* x = nullptr;   // (N, IH, IW, groups * wcg)
  const uint64_t* w = nullptr;   // (OC, KH, KW, wcg)
  const float* scale = nullptr;  // (OC,) or null (1)
  const float* bias = nullptr;   // (OC,) or null (0)
  float* y = nullptr;            // (N, OC, OH, OW)
};

struct BinaryGemmArgs {
  int64_t m = 0, n = 0, k = 0, words = 0;  // words = ceil(k / 64)
  const uint64_t* x = nullptr;             // (M, words)
  const uint64_t* w = nullptr;             // (N, words)
  const float* scale = nullptr;            // (N,) or null
  const float* bias = nullptr;             // (N,) or null
  float* y = nullptr;                      // (M, N)
};

// Packing, either layout: rows (x is rows x k, out rows x ceil(k/64)) or
// NCHW (out (n, h, w, groups * ceil(c/groups/64)), bits along channels).
struct BinaryPackArgs {
  const float* x = nullptr;
  bool nchw = false;
  int64_t rows = 0, k = 0;                         // rows layout
  int64_t n = 0, c = 0, h = 0, w = 0, groups = 1;  // NCHW layout
  uint64_t* out = nullptr;
};

const Registry<BinaryPackArgs>& binary_pack_registry();
void binary_pack_avx2(const BinaryPackArgs& a);

const Registry<BinaryConvArgs>& binary_conv2d_registry();
const Registry<BinaryGemmArgs>& binary_gemm_registry();

// Per-ISA kernels (binary_<isa>.cpp).
void binary_conv2d_ref(const BinaryConvArgs& a);
void binary_gemm_ref(const BinaryGemmArgs& a);
void binary_conv2d_avx2(const BinaryConvArgs& a);
void binary_conv2d_avx2_nibble(const BinaryConvArgs& a);
void binary_gemm_avx2(const BinaryGemmArgs& a);
void binary_conv2d_avx512vpopcnt(const BinaryConvArgs& a);
void binary_gemm_avx512vpopcnt(const BinaryGemmArgs& a);

// Packing (baseline code, parallel over rows).
void binary_pack_rows(const float* v, int64_t rows, int64_t k, uint64_t* out);  // out (rows, ceil(k/64))
void binary_pack_nchw(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups,
                      uint64_t* out);  // out (n, h, w, groups * ceil(c/groups/64))

}  // namespace dlcore
