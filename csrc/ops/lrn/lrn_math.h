// s^(-beta) for vectors of positive s: the power LRN needs, accurate to a few
// ulp for any finite beta (tests/test_lrn.py checks it against NumPy float64
// through dlcore._C._lrn_pow).
//
// pow(s, nb) = 2^(nb * log2 s) with the product kept in extended precision:
//   s = 2^e * m, m in [sqrt(1/2), sqrt(2));  log2 m = (2/ln 2) atanh(u), u = (m-1)/(m+1)
//   t = nb*e + nb*log2 m = n + f, n integer, f = fma(nb, e, -n) + nb*log2 m
//   (the FMA keeps nb*e exact, however large: a float log2 s would lose the
//   low bits); 2^f by its Taylor series (|f| <= 1/2, degree 7: truncation
//   < 0.1 ulp), times 2^n.
// The remaining error is that of nb*log2 m, |log2 m| <= 1/2: measured over
// s in [1e-37, 3e38], at most 1.5 ulp for |beta| <= 1, 3 ulp at beta = 2.5 and
// 8.5 ulp at beta = 7.1 (it grows like |beta|).
// beta = 0.75 (every network in the shape tables) has a cheaper form with
// one square root (ThreeQuarterPower below).
//
// Anonymous namespace like core/simd.h: one copy per ISA translation unit.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/simd.h"

namespace dlcore {
namespace lrn {
namespace {

// Bit-level primitives the power needs, per vector type.
template <class V>
struct MathVec;

template <>
struct MathVec<simd::Scalar> {
  using reg = float;
  using ireg = int32_t;
  using mask = bool;
  static DLCORE_INLINE ireg bits(reg v) {
    int32_t i;
    std::memcpy(&i, &v, 4);
    return i;
  }
  static DLCORE_INLINE reg from_bits(ireg i) {
    float v;
    std::memcpy(&v, &i, 4);
    return v;
  }
  static DLCORE_INLINE ireg iset1(int32_t v) { return v; }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return a & b; }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return a | b; }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return a + b; }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return a - b; }
  static DLCORE_INLINE ireg shr23(ireg a) { return int32_t(uint32_t(a) >> 23); }
  static DLCORE_INLINE ireg shl23(ireg a) { return int32_t(uint32_t(a) << 23); }
  static DLCORE_INLINE ireg sar1(ireg a) { return a >> 1; }
  static DLCORE_INLINE reg to_float(ireg a) { return float(a); }
  static DLCORE_INLINE ireg round_to_int(reg a) { return int32_t(std::nearbyint(a)); }
  static DLCORE_INLINE reg fma(reg a, reg b, reg c) { return std::fma(a, b, c); }  // fused: exact products
  static DLCORE_INLINE mask lt(reg a, reg b) { return a < b; }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return m ? a : b; }
  // 1/sqrt(a), at least 12 bits (the callers refine it); exact here.
  static DLCORE_INLINE reg rsqrt_approx(reg a) { return 1.0f / std::sqrt(a); }
};

#if defined(__AVX2__) && defined(__FMA__)
template <>
struct MathVec<simd::Avx2> {
  using reg = __m256;
  using ireg = __m256i;
  using mask = __m256;
  static DLCORE_INLINE ireg bits(reg v) { return _mm256_castps_si256(v); }
  static DLCORE_INLINE reg from_bits(ireg i) { return _mm256_castsi256_ps(i); }
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return _mm256_and_si256(a, b); }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return _mm256_or_si256(a, b); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return _mm256_sub_epi32(a, b); }
  static DLCORE_INLINE ireg shr23(ireg a) { return _mm256_srli_epi32(a, 23); }
  static DLCORE_INLINE ireg shl23(ireg a) { return _mm256_slli_epi32(a, 23); }
  static DLCORE_INLINE ireg sar1(ireg a) { return _mm256_srai_epi32(a, 1); }
  static DLCORE_INLINE reg to_float(ireg a) { return _mm256_cvtepi32_ps(a); }
  static DLCORE_INLINE ireg round_to_int(reg a) { return _mm256_cvtps_epi32(a); }  // MXCSR: nearest
  static DLCORE_INLINE reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static DLCORE_INLINE mask lt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return _mm256_blendv_ps(b, a, m); }
  static DLCORE_INLINE reg rsqrt_approx(reg a) { return _mm256_rsqrt_ps(a); }  // |rel err| <= 1.5 * 2^-12
};
#endif

#if defined(__AVX512F__) || defined(DLCORE_ISA_EMULATED)  // emulated: core/emulate
template <>
struct MathVec<simd::Avx512> {
  using reg = __m512;
  using ireg = __m512i;
  using mask = __mmask16;
  static DLCORE_INLINE ireg bits(reg v) { return _mm512_castps_si512(v); }
  static DLCORE_INLINE reg from_bits(ireg i) { return _mm512_castsi512_ps(i); }
  static DLCORE_INLINE ireg iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static DLCORE_INLINE ireg iand(ireg a, ireg b) { return _mm512_and_si512(a, b); }
  static DLCORE_INLINE ireg ior(ireg a, ireg b) { return _mm512_or_si512(a, b); }
  static DLCORE_INLINE ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static DLCORE_INLINE ireg isub(ireg a, ireg b) { return _mm512_sub_epi32(a, b); }
  static DLCORE_INLINE ireg shr23(ireg a) { return _mm512_srli_epi32(a, 23); }
  static DLCORE_INLINE ireg shl23(ireg a) { return _mm512_slli_epi32(a, 23); }
  static DLCORE_INLINE ireg sar1(ireg a) { return _mm512_srai_epi32(a, 1); }
  static DLCORE_INLINE reg to_float(ireg a) { return _mm512_cvtepi32_ps(a); }
  static DLCORE_INLINE ireg round_to_int(reg a) { return _mm512_cvtps_epi32(a); }
  static DLCORE_INLINE reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static DLCORE_INLINE mask lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static DLCORE_INLINE reg select(mask m, reg a, reg b) { return _mm512_mask_blend_ps(m, b, a); }
  static DLCORE_INLINE reg rsqrt_approx(reg a) { return _mm512_rsqrt14_ps(a); }  // |rel err| <= 2^-14
};
#endif

// s^nb for s > 0 (subnormal s included); +inf and NaN give pow()'s answers.
template <class V>
class NegPower {
  using M = MathVec<V>;
  using reg = typename V::reg;
  using ireg = typename M::ireg;

 public:
  explicit NegPower(float beta) : nb_(-beta), nbv_(V::set1(-beta)) {}

  DLCORE_INLINE reg operator()(reg s) const {
    // Exponent and mantissa, with subnormals scaled into the normal range.
    const auto tiny = M::lt(s, V::set1(FLT_MIN));
    const reg s1 = M::select(tiny, V::mul(s, V::set1(16777216.0f)), s);  // 2^24
    const ireg b = M::bits(s1);
    reg e = V::sub(M::to_float(M::isub(M::shr23(b), M::iset1(127))), M::select(tiny, V::set1(24.0f), V::zero()));
    reg m = M::from_bits(M::ior(M::iand(b, M::iset1(0x007fffff)), M::iset1(0x3f800000)));  // [1, 2)
    const auto big = M::lt(V::set1(1.41421356f), m);
    m = M::select(big, V::mul(m, V::set1(0.5f)), m);
    e = V::add(e, M::select(big, V::set1(1.0f), V::zero()));
    // log2 m = (2/ln2) * (u + u^3/3 + ... + u^9/9), |u| <= 0.1716.
    const reg u = V::div(V::sub(m, V::set1(1.0f)), V::add(m, V::set1(1.0f)));
    const reg u2 = V::mul(u, u);
    reg poly = V::fmadd(u2, V::set1(1.0f / 9.0f), V::set1(1.0f / 7.0f));
    poly = V::fmadd(u2, poly, V::set1(1.0f / 5.0f));
    poly = V::fmadd(u2, poly, V::set1(1.0f / 3.0f));
    poly = V::fmadd(u2, poly, V::set1(1.0f));
    const reg log2m = V::mul(V::mul(u, poly), V::set1(2.8853900817779268f));  // 2/ln2
    // t = nb*e + p splits into n + f. f = (nb*e - n) + p with nb*e - n from
    // one FMA: the exact product minus an integer, so the low bits of nb*e
    // survive however large it is. (Not hi - n + lo: GCC may contract the
    // vector mul/sub intrinsics into FMAs on its own, which would count the
    // low part twice.)
    const reg p = V::mul(nbv_, log2m);
    // Beyond +-250 the result is 0 or inf anyway; clamping keeps n an int.
    const reg t = V::min(V::max(V::fmadd(nbv_, e, p), V::set1(-250.0f)), V::set1(250.0f));
    const ireg n = M::round_to_int(t);
    reg f = V::add(M::fma(nbv_, e, V::sub(V::zero(), M::to_float(n))), p);
    f = V::min(V::max(f, V::set1(-1.0f)), V::set1(1.0f));
    // 2^f = sum (f ln2)^k / k!, degree 7.
    reg r = V::fmadd(f, V::set1(1.5252733804059840e-05f), V::set1(1.5403530393381608e-04f));
    r = V::fmadd(f, r, V::set1(1.3333558146428443e-03f));
    r = V::fmadd(f, r, V::set1(9.6181291076284772e-03f));
    r = V::fmadd(f, r, V::set1(5.5504108664821580e-02f));
    r = V::fmadd(f, r, V::set1(2.4022650695910071e-01f));
    r = V::fmadd(f, r, V::set1(6.9314718055994531e-01f));
    r = V::fmadd(f, r, V::set1(1.0f));
    // * 2^n in two steps so that |n| up to 250 never leaves the exponent range.
    const ireg n1 = M::sar1(n), n2 = M::isub(n, n1);
    r = V::mul(r, M::from_bits(M::shl23(M::iadd(n1, M::iset1(127)))));
    r = V::mul(r, M::from_bits(M::shl23(M::iadd(n2, M::iset1(127)))));
    // +inf and NaN (not < inf): pow(inf, nb) is 0 / inf / 1; NaN stays NaN.
    const auto finite = M::lt(s, V::set1(INFINITY));
    return M::select(finite, r, special(s));
  }

 private:
  DLCORE_INLINE reg special(reg s) const {
    if (nb_ < 0.0f) return V::div(V::set1(1.0f), s);
    if (nb_ > 0.0f) return s;
    return V::set1(1.0f);
  }

  float nb_;
  reg nbv_;
};

// LRN's uses of the power: y = x * s^-beta (forward), and p = s^-beta with
// p / s = s^(-beta-1) (backward).
template <class V>
struct GeneralPower {
  using reg = typename V::reg;
  explicit GeneralPower(float beta) : pow_(beta) {}
  DLCORE_INLINE reg scale(reg x, reg s) const { return V::mul(x, pow_(s)); }
  DLCORE_INLINE void powers(reg s, reg* p, reg* p_over_s) const {
    *p = pow_(s);
    *p_over_s = V::div(*p, s);
  }
  NegPower<V> pow_;
};

// beta = 0.75 for s >= kThreeQuarterMinS (s >= k, so the caller checks k):
// r = s^-1/2 from the hardware estimate and one second-order correction,
// then s^-0.75 = r sqrt(r) and s^-1.75 = s^-0.75 r^2.
//
// Why: the former x / (sqrt(s) sqrt(sqrt(s))) needs two square roots and a
// divide, all in the one slow divider of a Zen 1 core (AlexNet norm2
// forward was compute-bound at 0.88x oneDNN). This form keeps one square
// root; the rest is FMA-pipe work. Microbenchmark, AVX2, Zen 1, 1 thread:
// 11.9 ns per vector of x * s^-0.75 before, 5.9 after.
//
// Accuracy (u = 2^-24, relative): the estimate r0 = s^-1/2 (1 + d),
// |d| <= 1.5 * 2^-12. With e = 1 - s r0^2 = -2d - d^2 (one rounding of s r0
// makes it off by <= u), r = r0 (1 + e/2 + 3e^2/8) leaves a truncation
// error ~ (5/16) e^3 < 2^-30 and the roundings of the final FMA:
// |r error| <= 1.5 u. sqrt(r) adds 0.5x that plus its rounding (<= 1 u), the
// product another u: s^-0.75 within 4.25 u (bound; measured over every float
// in [1, 4) and 2M random s in [1e-30, 1e30]: 3.55 u, against 3.85 u for the
// two-square-root form it replaces). The tests compare y with rtol 3e-6
// (~50 u), unchanged.
constexpr float kThreeQuarterMinS = 1e-30f;

template <class V>
struct ThreeQuarterPower {
  using M = MathVec<V>;
  using reg = typename V::reg;
  explicit ThreeQuarterPower(float) {}
  static DLCORE_INLINE reg inverse_sqrt(reg s) {
    // An overflowed s = inf would give inf * 0 = NaN below; FLT_MAX gives a
    // result ~1e-29 instead (the exact value would be smaller still). min()
    // returns its second operand for NaN, so a NaN s stays NaN.
    s = V::min(V::set1(FLT_MAX), s);
    const reg r0 = M::rsqrt_approx(s);
    const reg e = V::fnmadd(V::mul(s, r0), r0, V::set1(1.0f));             // 1 - s r0^2
    const reg c = V::mul(e, V::fmadd(e, V::set1(0.375f), V::set1(0.5f)));  // e/2 + 3e^2/8
    return V::fmadd(r0, c, r0);
  }
  static DLCORE_INLINE reg power(reg s) {  // s^-0.75
    const reg r = inverse_sqrt(s);
    return V::mul(r, V::sqrt(r));
  }
  DLCORE_INLINE reg scale(reg x, reg s) const { return V::mul(x, power(s)); }
  DLCORE_INLINE void powers(reg s, reg* p, reg* p_over_s) const {
    const reg r = inverse_sqrt(s);
    *p = V::mul(r, V::sqrt(r));
    *p_over_s = V::mul(*p, V::mul(r, r));
  }
};

}  // namespace
}  // namespace lrn
}  // namespace dlcore
