// Vectorized exp / log / tanh / sigmoid, written once over the vector type V
// (simd::Scalar, simd::Avx2, simd::Avx512) so the reference path, the SIMD
// bodies and their tails compute the very same formula.
//
// The polynomials are the Cephes single-precision ones (expf, logf, tanhf):
// about 1-2 ulp over the whole float range, checked against NumPy float64 in
// tests/test_simd_math.py through the _C.vexp / _C.vlog / _C.vtanh hooks.
// Special values follow C99: exp(+-inf) = +inf / 0, log(0) = -inf,
// log(x < 0) = NaN, NaN in -> NaN out.
//
// Like simd.h, everything is in an anonymous namespace: each ISA's
// translation unit gets its own copy.
#pragma once
#include <cfloat>
#include <limits>

#include "core/simd.h"

namespace dlcore {
namespace simd {
namespace {

// Horner evaluation of c[0]*x^(n-1) + ... + c[n-1].
template <class V, int N>
DLCORE_INLINE typename V::reg poly(typename V::reg x, const float (&c)[N]) {
  typename V::reg p = V::set1(c[0]);
#pragma GCC unroll 16
  for (int i = 1; i < N; ++i) p = V::fmadd(p, x, V::set1(c[i]));
  return p;
}

// 2^k for integer lanes k in [-126, 127], built directly in the exponent field.
template <class V>
DLCORE_INLINE typename V::reg pow2i(typename V::ireg k) {
  return V::float_of(V::template ishl<23>(V::iadd(k, V::iset1(127))));
}

// e^x. Range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split in two
// (Cody-Waite) so n*ln2 is exact; e^r by a degree-7 polynomial; then 2^n
// applied as two factors 2^(n/2) 2^(n - n/2), so results between FLT_MAX/2
// and overflow, and the subnormal range, come out right instead of wrapping
// the exponent field.
template <class V>
DLCORE_INLINE typename V::reg vexp(typename V::reg x) {
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  static constexpr float kCoef[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                    4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
  // Beyond these e^x is inf / 0 anyway; clamping keeps n in [-150, 128].
  // max(lo, x) / min(hi, x) return x when x is NaN, so NaN propagates.
  x = V::min(V::set1(89.0f), V::max(V::set1(-104.0f), x));
  reg n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  reg r = V::fnmadd(n, V::set1(0.693359375f), x);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  reg p = poly<V>(r, kCoef);
  reg er = V::add(V::fmadd(V::mul(p, r), r, r), V::set1(1.0f));  // 1 + r + r^2 P(r)
  ireg ni = V::cvt_to_int(n);
  ireg half = V::template isra<1>(ni);
  return V::mul(V::mul(er, pow2i<V>(half)), pow2i<V>(V::isub(ni, half)));
}

// Natural logarithm. x = m 2^e with m in [sqrt(1/2), sqrt(2)); log(1 + f)
// for f = m - 1 (exact) by f - f^2/2 + f^3 P(f); subnormals are scaled by
// 2^23 first so the exponent field is meaningful.
template <class V>
DLCORE_INLINE typename V::reg vlog(typename V::reg x) {
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  static constexpr float kCoef[] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                                    -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                                    2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
  const reg zero = V::zero(), one = V::set1(1.0f);
  typename V::cmask subnormal = V::cmp_lt(x, V::set1(FLT_MIN));
  reg xs = V::select(subnormal, V::mul(x, V::set1(8388608.0f)), x);
  reg e_adjust = V::select(subnormal, V::set1(-23.0f), zero);
  ireg bits = V::bits_of(xs);
  // m in [0.5, 1), x = m * 2^(e + 1).
  reg m = V::float_of(V::ior(V::iand(bits, V::iset1(0x007fffff)), V::iset1(0x3f000000)));
  reg e = V::add(V::cvt_to_float(V::isub(V::template isrl<23>(bits), V::iset1(126))), e_adjust);
  typename V::cmask below = V::cmp_lt(m, V::set1(0.707106781186547524f));
  e = V::sub(e, V::select(below, one, zero));
  reg f = V::sub(V::add(m, V::select(below, m, zero)), one);  // 2m - 1 or m - 1, both exact
  reg z = V::mul(f, f);
  reg y = V::mul(V::mul(poly<V>(f, kCoef), f), z);
  y = V::fmadd(e, V::set1(-2.12194440e-4f), y);
  y = V::fmadd(z, V::set1(-0.5f), y);
  reg res = V::fmadd(e, V::set1(0.693359375f), V::add(f, y));
  // Special values: x < 0 or NaN -> NaN; 0 -> -inf; +inf -> +inf.
  const float inf = std::numeric_limits<float>::infinity();
  res = V::select(V::cmp_ge(x, zero), res, V::set1(std::numeric_limits<float>::quiet_NaN()));
  res = V::select(V::cmp_eq(x, zero), V::set1(-inf), res);
  return V::select(V::cmp_eq(x, V::set1(inf)), V::set1(inf), res);
}

// tanh. |x| < 0.625: odd polynomial x + x^3 P(x^2) (keeps full relative
// accuracy near 0); otherwise sign(x) (1 - 2 / (e^{2|x|} + 1)), which
// saturates to exactly +-1 once e^{2|x|} overflows.
template <class V>
DLCORE_INLINE typename V::reg vtanh(typename V::reg x) {
  using reg = typename V::reg;
  static constexpr float kCoef[] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                                    -3.33332819422e-1f};
  const reg one = V::set1(1.0f);
  reg ax = V::abs(x);
  reg z = V::mul(x, x);
  reg small = V::fmadd(V::mul(poly<V>(z, kCoef), z), x, x);
  reg e = vexp<V>(V::add(ax, ax));
  reg large = V::copysign(V::sub(one, V::div(V::set1(2.0f), V::add(e, one))), x);
  return V::select(V::cmp_lt(ax, V::set1(0.625f)), small, large);
}

// Logistic sigmoid. With e = e^{-|x|} <= 1: 1 / (1 + e) for x >= 0 and
// e / (1 + e) for x < 0, so nothing overflows and tiny results (down to the
// subnormals) keep their relative accuracy.
template <class V>
DLCORE_INLINE typename V::reg vsigmoid(typename V::reg x) {
  const typename V::reg one = V::set1(1.0f);
  typename V::reg e = vexp<V>(V::sub(V::zero(), V::abs(x)));
  typename V::reg r = V::div(one, V::add(one, e));
  return V::select(V::cmp_ge(x, V::zero()), r, V::mul(e, r));
}

}  // namespace
}  // namespace simd
}  // namespace dlcore
