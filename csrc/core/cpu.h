// CPU feature detection (CPUID, via the compiler's builtins) used by the
// dispatch registry to decide which ISA implementations may run.
#pragma once
#include <string>

namespace dlcore {

enum class Isa { ref = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// True when the implementation for `isa` was compiled into this module.
bool isa_built(Isa isa);
// True when this CPU (and OS) can execute `isa`'s instructions.
bool isa_supported(Isa isa);
// Human-readable reason why `isa` cannot run here ("" when it can).
std::string isa_unavailable_reason(Isa isa);
// The best ISA that is both built and supported.
Isa best_isa();
// Brand string of the CPU, for reports.
std::string cpu_brand();

}  // namespace dlcore
