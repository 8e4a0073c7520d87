// CPU feature detection (CPUID, via the compiler's builtins) used by the
// dispatch registry to decide which ISA implementations may run.
#pragma once
#include <string>

namespace dlcore {

// The float32 tiers (ref < avx2 < avx512) and the low-precision extensions,
// each its own backend name so a test or benchmark can ask for exactly it:
//   avx512_vnni    AVX-512 F/BW/VL/DQ + AVX512_VNNI (vpdpbusd: u8 x s8 dot products)
//   avx_vnni       AVX2 + AVX-VNNI (the VEX-encoded vpdpbusd, Alder Lake and later)
//   avx512_bf16    AVX-512 + AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16)
//   amx            AMX-TILE + AMX-BF16 + AMX-INT8 and the OS's permission to use
//                  the tile data (Linux arch_prctl ARCH_REQ_XCOMP_PERM), plus AVX-512
//   avx512_vpopcnt AVX-512 + AVX512_VPOPCNTDQ (vpopcntq)
enum class Isa {
  ref = 0,
  avx2 = 1,
  avx512 = 2,
  avx512_vnni = 3,
  avx_vnni = 4,
  avx512_bf16 = 5,
  amx = 6,
  avx512_vpopcnt = 7
};
constexpr int kIsaCount = 8;
// Every Isa, in enum order (for loops over backend names).
constexpr Isa kAllIsas[kIsaCount] = {Isa::ref,      Isa::avx2,        Isa::avx512, Isa::avx512_vnni,
                                     Isa::avx_vnni, Isa::avx512_bf16, Isa::amx,    Isa::avx512_vpopcnt};

const char* isa_name(Isa isa);
// True when the implementation for `isa` was compiled into this module.
bool isa_built(Isa isa);
// True when this CPU (and OS) can execute `isa`'s instructions.
bool isa_supported(Isa isa);
// Human-readable reason why `isa` cannot run here ("" when it can).
std::string isa_unavailable_reason(Isa isa);
// In the ISA emulation test build (CMake DLCORE_ISA_EMULATION=ON): true for
// each tier above AVX2, whose kernels then run emulated (SIMDe, our AMX
// emulator) on an AVX2 CPU; always false in a normal build.
bool isa_emulated(Isa isa);
// "emulated (SIMDe ...)" for an emulated tier, "" otherwise.
std::string isa_emulation_note(Isa isa);
// The best float32 tier (avx512, avx2 or ref) that is both built and supported.
Isa best_isa();
// Brand string of the CPU, for reports.
std::string cpu_brand();

}  // namespace dlcore
