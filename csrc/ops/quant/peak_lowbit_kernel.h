// Body of the low-precision peak probes: kChains independent accumulators;
// an empty asm statement tells the compiler each operand register changed every round,
// so the multiplies cannot be hoisted out of the loop or shared by the chains.
#pragma once
#include <cstdint>

namespace dlcore {
namespace {

// Eight: enough to cover the latency of the multiply-add chains (vpdpbusd: 5 cycles) on two
// pipes, and few enough that the accumulators, operands and tables of every loop stay in the 16
// ymm registers (with ten GCC spilled accumulators of the popcount loops to the stack every round).
constexpr int kPeakChains = 8;

// Tells the compiler `r` changed, without touching memory when it lives in a vector register.
// Under ISA emulation (no -mavx512f) a 512-bit type is SIMDe's plain struct, which no register
// constraint takes: there it goes through memory (emulated probes check running, not speed).
template <class Reg>
inline void opaque(Reg& r) {
#if defined(__AVX512F__)
  asm volatile("" : "+v"(r));
#else
  if constexpr (sizeof(Reg) <= 32)
    asm volatile("" : "+x"(r));
  else
    asm volatile("" : "+m"(r));
#endif
}

template <class Reg, class Step>
Reg peak_chains(int64_t iterations, Reg operand, Reg init, Step step) {
  // One operand per chain, each a register copy that an empty asm says changed this round. A single
  // shared operand let GCC compute a product that does not involve acc (vpmaddubsw(b, b),
  // popcount(x ^ w)) once per round for all chains; an operand array passed to the asm as "+m" was
  // stored and reloaded every round, and those stores (not the arithmetic) set the pace (a float32
  // FMA loop built this way read 54 GOP/s on 2 Zen 3 cores; core/peak.cpp's probe reads 202).
  Reg acc[kPeakChains];
  for (int i = 0; i < kPeakChains; ++i) acc[i] = init;
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 8
    for (int i = 0; i < kPeakChains; ++i) {
      Reg op = operand;
      opaque(op);
      acc[i] = step(acc[i], op);
    }
  }
  Reg s = acc[0];
  for (int i = 1; i < kPeakChains; ++i) s = step(s, acc[i]);
  return s;
}

}  // namespace
}  // namespace dlcore
