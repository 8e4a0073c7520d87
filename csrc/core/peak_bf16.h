// bf16 peak probes for the benchmark report (python -m dlcore.bench bf16):
// measured, like fma_peak_gflops. Each body runs independent accumulators so
// that throughput, not latency, limits it.
#pragma once
#include <cstdint>

#include "core/cpu.h"

namespace dlcore {

// GFLOP/s of `isa`'s bf16 dot-product instruction on `threads` threads:
// Isa::amx (tdpbf16ps: 16x16x32 multiply-adds, 16384 flops each) or
// Isa::avx512_bf16 (vdpbf16ps: 16 lanes x 2 products, 64 flops each).
double bf16_peak_gflops(Isa isa, int threads, int64_t iterations);

// Per-ISA bodies on one thread; return the flops done (result kept live).
double bf16_chain_amx(int64_t iterations);         // NOT RUN HERE (no AMX)
double bf16_chain_avx512bf16(int64_t iterations);  // NOT RUN HERE (no AVX512-BF16)

}  // namespace dlcore
