// Peak probes of the low-precision tiers, for the benchmark report
// (python -m dlcore.bench lowbit): the int8 multiply-add loop of each ISA
// (vpmaddubsw+vpmaddwd, vpmaddwd on int16, vpdpbusd) and the binary
// XNOR + popcount loops (nibble vpshufb, popcount(v XOR w) tables, vpopcntq), as independent chains on
// every thread. Results in GOP/s with 2 ops per multiply-add (int8) or per
// binary multiply-add (one bit of XNOR + popcount), XNOR-Net's counting.
#pragma once
#include <cstdint>
#include <string>

namespace dlcore {

// Multiply-adds one thread performs in `iterations` rounds (returns a value
// derived from the result so nothing is elided; *macs gets the count).
double peak_loop_avx2_maddubs(int64_t iterations, double* macs);
double peak_loop_avx2_madd16(int64_t iterations, double* macs);
double peak_loop_avx2_popcnt(int64_t iterations, double* macs);
double peak_loop_avx2_nibble(int64_t iterations, double* macs);
double peak_loop_avx512vnni(int64_t iterations, double* macs);
double peak_loop_avxvnni(int64_t iterations, double* macs);
double peak_loop_avx512vpopcnt(int64_t iterations, double* macs);

// GOP/s of loop `kind` on `threads` threads; throws ValueError/BackendError.
double lowbit_peak_gops(const std::string& kind, int threads, int64_t iterations);

}  // namespace dlcore
