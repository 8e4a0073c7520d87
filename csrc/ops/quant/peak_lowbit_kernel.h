// Body of the low-precision peak probes: kChains independent accumulators;
// an empty asm statement tells the compiler the operand changed every round,
// so the multiplies cannot be hoisted out of the loop (they cost nothing).
#pragma once
#include <cstdint>

namespace dlcore {
namespace {

constexpr int kPeakChains = 10;

template <class Reg, class Step>
Reg peak_chains(int64_t iterations, Reg operand, Reg init, Step step) {
  Reg acc[kPeakChains];
  for (int i = 0; i < kPeakChains; ++i) acc[i] = init;
  for (int64_t it = 0; it < iterations; ++it) {
#if defined(DLCORE_ISA_EMULATED)  // core/emulate: a 512-bit value lives in memory, not in an xmm/zmm
    asm volatile("" : "+m"(operand));
#else
    asm volatile("" : "+x"(operand));
#endif
#pragma GCC unroll 10
    for (int i = 0; i < kPeakChains; ++i) acc[i] = step(acc[i], operand);
  }
  Reg s = acc[0];
  for (int i = 1; i < kPeakChains; ++i) s = step(s, acc[i]);
  return s;
}

}  // namespace
}  // namespace dlcore
