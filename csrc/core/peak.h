// Machine-peak probes for the benchmark report: measured, not read from a
// datasheet. fma_peak_gflops runs independent FMA chains on every thread.
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

// GFLOP/s (2 flops per FMA lane) of `isa`'s widest FMA on `threads` threads.
double fma_peak_gflops(Isa isa, int threads, int64_t iterations);

// Per-ISA bodies: `iterations` rounds of kChains independent FMAs on one
// thread; returns a value derived from the result so nothing is elided.
float fma_chain_ref(int64_t iterations);
float fma_chain_avx2(int64_t iterations);
float fma_chain_avx512(int64_t iterations);
int fma_lanes(Isa isa);

}  // namespace dlcore
