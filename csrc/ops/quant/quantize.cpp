// Reference quantize / requantize / dequantize (ops/quant/quantize.h) and the
// registries. The reference is compiled without -mfma, so `p * m + c` is a
// rounded product and a rounded sum, as NumPy computes it.
#include "ops/quant/quantize.h"

#include <cmath>

#include "core/parallel.h"

namespace dlcore {
namespace {

// clip(v, lo, hi) with NaN -> lo: the comparisons are false for NaN.
inline float clamp_nan_lo(float v, float lo, float hi) { return v >= lo ? (v <= hi ? v : hi) : lo; }

void quantize_ref(const QuantizeArgs& a) {
  parallel_units(a.size, a.size * 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float v = std::nearbyint(a.x[i] / a.scale) + float(a.zero_point);
      a.q[i] = uint8_t(clamp_nan_lo(v, 0.0f, 255.0f));
    }
  });
}

void requantize_ref(const RequantizeArgs& a) {
  const int64_t rows = a.outer * a.channels;
  parallel_units(rows, rows * a.inner * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % a.channels;
      const float m = a.mult[c], off = a.offset[c];
      const int32_t* acc = a.acc + r * a.inner;
      uint8_t* q = a.q + r * a.inner;
      for (int64_t i = 0; i < a.inner; ++i) {
        volatile float p = float(acc[i]) * m;  // rounded before the add (no contraction)
        const float v = std::nearbyint(p + off);
        q[i] = uint8_t(clamp_nan_lo(v, float(a.lo), 255.0f));
      }
    }
  });
}

void dequantize_ref(const RequantizeArgs& a) {
  const int64_t rows = a.outer * a.channels;
  parallel_units(rows, rows * a.inner * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % a.channels;
      const float m = a.mult[c], b = a.offset[c];
      const int32_t* acc = a.acc + r * a.inner;
      float* y = a.y + r * a.inner;
      for (int64_t i = 0; i < a.inner; ++i) {
        volatile float p = float(acc[i]) * m;
        const float v = p + b;
        y[i] = a.relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
  });
}

}  // namespace

const Registry<QuantizeArgs>& quantize_u8_registry() {
  static const Registry<QuantizeArgs> registry("quantize_u8",
                                               {
#ifdef DLCORE_HAVE_AVX2
                                                   {"quantize_u8_avx2", Isa::avx2, nullptr, quantize_u8_avx2},
#endif
                                                   {"quantize_u8_ref", Isa::ref, nullptr, quantize_ref},
                                               });
  return registry;
}

const Registry<RequantizeArgs>& requantize_u8_registry() {
  static const Registry<RequantizeArgs> registry("requantize_u8",
                                                 {
#ifdef DLCORE_HAVE_AVX2
                                                     {"requantize_u8_avx2", Isa::avx2, nullptr, requantize_u8_avx2},
#endif
                                                     {"requantize_u8_ref", Isa::ref, nullptr, requantize_ref},
                                                 });
  return registry;
}

const Registry<RequantizeArgs>& dequantize_s32_registry() {
  static const Registry<RequantizeArgs> registry("dequantize_s32",
                                                 {
#ifdef DLCORE_HAVE_AVX2
                                                     {"dequantize_s32_avx2", Isa::avx2, nullptr, dequantize_s32_avx2},
#endif
                                                     {"dequantize_s32_ref", Isa::ref, nullptr, dequantize_ref},
                                                 });
  return registry;
}

}  // namespace dlcore
