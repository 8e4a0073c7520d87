// Body of the low-precision peak probes: kChains independent accumulators;
// an empty asm statement tells the compiler the operands changed every round,
// so the multiplies cannot be hoisted out of the loop or shared by the chains.
#pragma once
#include <cstdint>

namespace dlcore {
namespace {

constexpr int kPeakChains = 10;

template <class Reg, class Step>
Reg peak_chains(int64_t iterations, Reg operand, Reg init, Step step) {
  // One operand per chain, in memory that the empty asm says changed every round: with a single
  // operand in a register, a step whose product does not involve acc (vpmaddubsw(b, b),
  // popcount(x ^ w)) was computed once per round and only the adds ran per chain, so the int8,
  // int16 and binary peaks counted kPeakChains products per product executed (seen in the
  // disassembly: 2 vpshufb and 10 vpaddb per round of the AVX2 popcount loop).
  Reg acc[kPeakChains], ops[kPeakChains];
  for (int i = 0; i < kPeakChains; ++i) acc[i] = init, ops[i] = operand;
  for (int64_t it = 0; it < iterations; ++it) {
    asm volatile("" : "+m"(ops));
#pragma GCC unroll 10
    for (int i = 0; i < kPeakChains; ++i) acc[i] = step(acc[i], ops[i]);
  }
  Reg s = acc[0];
  for (int i = 1; i < kPeakChains; ++i) s = step(s, acc[i]);
  return s;
}

}  // namespace
}  // namespace dlcore
