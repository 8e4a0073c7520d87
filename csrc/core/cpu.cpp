#include "core/cpu.h"

#include <array>
#include <cstring>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DLCORE_X86_HOST 1
#endif

namespace dlcore {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::ref:
      return "ref";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    case Isa::avx512_vnni:
      return "avx512_vnni";
    case Isa::avx_vnni:
      return "avx_vnni";
    case Isa::avx512_bf16:
      return "avx512_bf16";
    case Isa::amx:
      return "amx";
    case Isa::avx512_vpopcnt:
      return "avx512_vpopcnt";
  }
  return "?";
}

bool isa_built(Isa isa) {
  switch (isa) {
    case Isa::ref:
      return true;
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2:
      return true;
#endif
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512:
      return true;
    // The extension tiers build with the same toolchain as AVX-512 (GCC >= 11).
    case Isa::avx512_vnni:
      return true;
    case Isa::avx_vnni:
      return true;
    case Isa::avx512_bf16:
      return true;
    case Isa::amx:
      return true;
    case Isa::avx512_vpopcnt:
      return true;
#endif
    default:
      return false;
  }
}

#ifdef DLCORE_X86_HOST
// CPUID leaf 7 feature bits that __builtin_cpu_supports does not know on every
// GCC we build with; read directly (Intel SDM vol. 2A, CPUID leaf 07H).
struct Leaf7 {
  unsigned ebx = 0, ecx = 0, edx = 0, eax1 = 0;  // eax1: subleaf 1's EAX
};
static Leaf7 read_leaf7() {
  Leaf7 r;
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return r;
  __cpuid_count(7, 0, a, b, c, d);
  r.ebx = b, r.ecx = c, r.edx = d;
  unsigned max_sub = a;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    r.eax1 = a;
  }
  return r;
}

static unsigned long long read_xcr0() {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (!(c & (1u << 27))) return 0;  // no OSXSAVE: XGETBV would fault
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

static bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// Linux keeps the 8 KiB AMX tile-data state off until a process asks for it;
// without this, the first tile instruction raises SIGILL. Asked once.
static bool request_amx_permission(std::string* why) {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM (asm/prctl.h)
  constexpr long kXfeatureXtiledata = 18;     // XFEATURE_XTILEDATA
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    *why = "the Linux kernel refused AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM failed; kernel < 5.16?)";
    return false;
  }
  return true;
#else
  *why = "AMX is only enabled on Linux in this build";
  return false;
#endif
}
#endif

static std::string& amx_refusal() {
  static std::string why;
  return why;
}

bool isa_emulated(Isa isa) {
#ifdef DLCORE_ISA_EMULATION
  return isa != Isa::ref && isa != Isa::avx2;
#else
  (void)isa;
  return false;
#endif
}

std::string isa_emulation_note(Isa isa) {
  if (!isa_emulated(isa)) return "";
  if (isa == Isa::amx) return "emulated (dlcore AMX emulator + SIMDe, test build: correctness only, not speed)";
  return "emulated (SIMDe, test build: correctness only, not speed)";
}

static bool detect_isa(Isa isa) {
  if (isa == Isa::ref) return true;
#ifdef DLCORE_X86_HOST
  // Emulation build: every tier runs as AVX2 code (and needs no AMX
  // arch_prctl: the emulator keeps its tiles in ordinary memory).
  if (isa_emulated(isa)) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  // __builtin_cpu_supports also checks that the OS saves the wider register
  // state (XGETBV), so a kernel with AVX-512 disabled reports false here.
  __builtin_cpu_init();
  if (isa == Isa::avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx_vnni) return detect_isa(Isa::avx2) && bit(read_leaf7().eax1, 4);
  if (!detect_isa(Isa::avx512)) return false;  // the rest build on AVX-512
  const Leaf7 l7 = read_leaf7();
  if (isa == Isa::avx512_vnni) return bit(l7.ecx, 11);
  if (isa == Isa::avx512_vpopcnt) return bit(l7.ecx, 14);
  if (isa == Isa::avx512_bf16) return bit(l7.eax1, 5);
  if (isa == Isa::amx) {
    const bool cpu_has = bit(l7.edx, 22) && bit(l7.edx, 24) && bit(l7.edx, 25);  // AMX-BF16, TILE, INT8
    const unsigned long long tile_state = (1ull << 17) | (1ull << 18);           // XTILECFG, XTILEDATA
    if (!cpu_has) return false;
    if ((read_xcr0() & tile_state) != tile_state) {
      amx_refusal() = "the OS does not enable AMX tile state (XCR0 bits 17/18 clear)";
      return false;
    }
    return request_amx_permission(&amx_refusal());
  }
#endif
  return false;
}

// CPUID answers once per process; every kernel call asks.
bool isa_supported(Isa isa) {
  static const auto supported = [] {
    std::array<bool, kIsaCount> s{};
    for (Isa i : kAllIsas) s[int(i)] = detect_isa(i);
    return s;
  }();
  return supported[int(isa)];
}

std::string isa_unavailable_reason(Isa isa) {
  if (!isa_built(isa))
    return std::string("the ") + isa_name(isa) + " kernels were not compiled into this build (non-x86-64 target)";
  if (!isa_supported(isa)) {
    if (isa_emulated(isa)) return std::string("emulating ") + isa_name(isa) + " needs AVX2/FMA, which this CPU lacks";
    if (isa == Isa::avx2) return "this CPU lacks AVX2/FMA";
    if (isa == Isa::avx512) return "this CPU lacks AVX-512 (F, BW, VL, DQ)";
    if (isa == Isa::avx_vnni) return "this CPU lacks AVX-VNNI (or AVX2)";
    if (!isa_supported(Isa::avx512))
      return std::string("this CPU lacks AVX-512, which ") + isa_name(isa) + " builds on";
    if (isa == Isa::avx512_vnni) return "this CPU lacks AVX512_VNNI";
    if (isa == Isa::avx512_bf16) return "this CPU lacks AVX512_BF16";
    if (isa == Isa::avx512_vpopcnt) return "this CPU lacks AVX512_VPOPCNTDQ";
    if (isa == Isa::amx) return amx_refusal().empty() ? "this CPU lacks AMX (TILE, BF16, INT8)" : amx_refusal();
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
