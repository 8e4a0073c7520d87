#include "core/cpu.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DLCORE_X86_HOST 1
#endif

namespace dlcore {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::ref: return "ref";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

bool isa_built(Isa isa) {
  switch (isa) {
    case Isa::ref: return true;
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2: return true;
#endif
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512: return true;
#endif
    default: return false;
  }
}

static bool detect_isa(Isa isa) {
  if (isa == Isa::ref) return true;
#ifdef DLCORE_X86_HOST
  // __builtin_cpu_supports also checks that the OS saves the wider register
  // state (XGETBV), so a kernel with AVX-512 disabled reports false here.
  __builtin_cpu_init();
  if (isa == Isa::avx2)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("fma");
#endif
  return false;
}

// CPUID answers once per process; every kernel call asks.
bool isa_supported(Isa isa) {
  static const bool supported[3] = {detect_isa(Isa::ref), detect_isa(Isa::avx2), detect_isa(Isa::avx512)};
  return supported[int(isa)];
}

std::string isa_unavailable_reason(Isa isa) {
  if (!isa_built(isa))
    return std::string("the ") + isa_name(isa) + " kernels were not compiled into this build (non-x86-64 target)";
  if (!isa_supported(isa)) {
    if (isa == Isa::avx2) return "this CPU lacks AVX2/FMA";
    if (isa == Isa::avx512) return "this CPU lacks AVX-512 (F, BW, VL, DQ)";
  }
  return "";
}

Isa best_isa() {
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (isa_built(isa) && isa_supported(isa)) return isa;
  return Isa::ref;
}

std::string cpu_brand() {
#ifdef DLCORE_X86_HOST
  unsigned regs[12] = {0};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    char buf[49];
    std::memcpy(buf, regs, 48);
    buf[48] = 0;
    std::string s(buf);
    size_t b = s.find_first_not_of(' ');
    return b == std::string::npos ? "unknown x86-64" : s.substr(b);
  }
  return "unknown x86-64";
#else
  return "non-x86 CPU";
#endif
}

}  // namespace dlcore
