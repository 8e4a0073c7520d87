// Body of the FMA-throughput probe, one template for every vector type.
#pragma once
#include "core/simd.h"

namespace dlcore {
namespace {

// 12 independent accumulator chains: enough to cover FMA latency (4-5
// cycles) times two FMA pipes on current x86 cores.
constexpr int kFmaChains = 12;

template <class V>
float fma_chain(int64_t iterations) {
  using reg = typename V::reg;
  reg acc[kFmaChains];
  for (int i = 0; i < kFmaChains; ++i) acc[i] = V::set1(1.0f + 1e-7f * float(i));
  const reg x = V::set1(0.999999f), y = V::set1(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kFmaChains; ++i) acc[i] = V::fmadd(acc[i], x, y);
  }
  reg s = acc[0];
  for (int i = 1; i < kFmaChains; ++i) s = V::add(s, acc[i]);
  return V::reduce_add(s);
}

}  // namespace
}  // namespace dlcore
