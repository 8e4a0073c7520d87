// Dropout kernels over the vector type V (see dropout.h for the element ->
// random-word mapping). Include only from dropout.cpp / dropout_avx2.cpp /
// dropout_avx512.cpp (anonymous namespace: one copy per ISA).
#pragma once
#include <omp.h>

#include "core/simd.h"
#include "ops/dropout/dropout.h"
#include "ops/eltwise/loops.h"

namespace dlcore {
namespace {

constexpr int64_t kGroup = 64;        // elements fed by 16 Philox calls
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

// Philox-4x32-10 on V::width counters at once (one counter per lane); c[]
// holds the 4 counter words in, the 4 random words out.
template <class V>
DLCORE_INLINE void philox4x32_10(typename V::ireg c[4], uint32_t k0, uint32_t k1) {
  using ireg = typename V::ireg;
  const ireg m0 = V::iset1(int32_t(kPhiloxM0)), m1 = V::iset1(int32_t(kPhiloxM1));
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    ireg hi0, lo0, hi1, lo1;
    V::mulhilo_u32(m0, c[0], &hi0, &lo0);
    V::mulhilo_u32(m1, c[2], &hi1, &lo1);
    ireg n0 = V::ixor(V::ixor(hi1, c[1]), V::iset1(int32_t(k0)));
    ireg n2 = V::ixor(V::ixor(hi0, c[3]), V::iset1(int32_t(k1)));
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

// One group of 64 elements starting at `base` (count = elements left, may be < 64).
template <class V>
DLCORE_INLINE void dropout_group(const DropoutArgs& a, int64_t group) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  static constexpr int32_t kLane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const int64_t base = group * kGroup;
  const reg pv = V::set1(a.p), scale = V::set1(a.p < 1.0f ? 1.0f / (1.0f - a.p) : 0.0f);
  const uint32_t k0 = uint32_t(a.seed), k1 = uint32_t(a.seed >> 32);
  for (int h = 0; h < 16; h += W) {
    const uint64_t first = uint64_t(group) * 16 + uint64_t(h);
    ireg c[4] = {V::iadd(V::iset1(int32_t(uint32_t(first))), V::iload(kLane)),
                 V::iset1(int32_t(uint32_t(first >> 32))), V::iset1(0), V::iset1(0)};
    if (a.forward) philox4x32_10<V>(c, k0, k1);
    for (int k = 0; k < 4; ++k) {
      const int64_t e = base + 16 * k + h;
      if (e >= a.n) break;
      const int cnt = a.n - e >= W ? W : int(a.n - e);
      reg v = cnt == W ? V::load(a.in + e) : V::load_partial(a.in + e, cnt);
      typename V::cmask keep;
      if (a.forward) {
        const reg u = V::mul(V::cvt_to_float(V::template isrl<8>(c[k])), V::set1(1.0f / 16777216.0f));
        keep = V::cmp_ge(u, pv);
      } else if (cnt == W) {
        keep = V::icmp_gt(V::load_u8(a.mask + e), V::iset1(0));
      } else {  // the tail: never read a mask byte past n
        alignas(64) uint8_t m[16] = {};
        for (int i = 0; i < cnt; ++i) m[i] = a.mask[e + i];
        keep = V::icmp_gt(V::load_u8(m), V::iset1(0));
      }
      const reg y = V::select(keep, V::mul(v, scale), V::zero());
      if (cnt == W) {
        V::store(a.out + e, y);
      } else {
        V::store_partial(a.out + e, y, cnt);
      }
      if (a.forward && cnt == W) {
        V::store_u8(a.mask + e, V::ones_where(keep));  // W bytes, one store
      } else if (a.forward) {  // the tail, through a buffer: never write past n
        alignas(64) uint8_t m[16] = {};
        V::store_u8(m, V::ones_where(keep));
        for (int i = 0; i < cnt; ++i) a.mask[e + i] = m[i];
      }
    }
  }
}

template <class V>
void dropout_kernel(const DropoutArgs& a) {
  const int64_t groups = (a.n + kGroup - 1) / kGroup;
  // Philox costs ~6 instructions per element: a second thread pays off early.
  const int nt = threads_for(a.n, kMinElementsPerThread / 4);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t g = 0; g < groups; ++g) dropout_group<V>(a, g);
}

}  // namespace
}  // namespace dlcore
