// The dispatch registry: one ordered list of implementations per op.
//
// Each op family declares `static const Registry<Args> kRegistry("op", {...})`
// with its implementations fastest first and the portable reference last.
// `select()` is the single place where a backend name becomes a kernel:
//   * "auto"  - the first implementation whose ISA this CPU runs and which
//               does not decline the arguments;
//   * "ref" / "avx2" / "avx512" - exactly that implementation, or a
//               BackendError that says why it cannot run. Never a fallback.
// With DLCORE_VERBOSE=1 (or dlcore.set_verbose(True)) the choice, and the
// reasons of those that declined, are printed to stderr.
//
// Every entry can decline, with a reason: the registry itself declines an
// entry whose ISA this CPU lacks (or this build left out), and an entry's
// `declines` function refuses the inputs its algorithm does not handle
// (conv's 1x1/depthwise/narrow, gemm's dtype, int8 maddubs' range). An entry
// without `declines` is the catch-all of its ISA and must be that ISA's last
// entry (tests/test_registry.py walks every list through _C.registry_entries()).
#pragma once
#include <string>
#include <vector>

#include "core/check.h"
#include "core/cpu.h"

namespace dlcore {

bool verbose_enabled();
void set_verbose(bool on);
// Records "<op>:<impl>" as the last choice made on this thread (for tests and
// for dlcore.kernels.last_dispatch()), and why the entries before it declined
// ("<impl> declined: <reason>; ..."; empty when none did).
void record_dispatch(const char* op, const char* impl, const std::string& declined = std::string());
std::string last_dispatch();
std::string last_dispatch_declined();
void log_dispatch(const char* op, const char* impl, const std::string& declined);
// Parses "ref" / "avx2" / "avx512"; "auto" returns false. Anything else throws.
bool parse_isa_backend(const std::string& backend, const char* op, Isa* out);

// One row of _C.registry_entries(): a registry's entry, type-erased.
struct RegistryEntryInfo {
  std::string op, name, isa;
  bool declines_inputs;     // has a declines() for inputs
  std::string unavailable;  // why its ISA cannot run here ("" when it can)
};
// Every registry constructed so far adds its rows here (registries are
// function-local statics: _C.registry_entries() first touches each family's).
void register_registry_rows(std::vector<RegistryEntryInfo> rows);
std::vector<RegistryEntryInfo> registry_rows();
// Why `isa`'s entries decline on this machine, "" when they can run.
std::string isa_decline_reason(Isa isa);

template <class Args>
struct Impl {
  const char* name;                      // e.g. "gemm_avx2_6x16"
  Isa isa;                               // the backend name that selects it
  std::string (*declines)(const Args&);  // "" when it accepts; may be nullptr
  void (*run)(const Args&);              // the kernel; called without the GIL
};

template <class Args>
class Registry {
 public:
  Registry(const char* op, std::vector<Impl<Args>> impls) : op_(op), impls_(std::move(impls)) {
    // The ISA reasons are fixed for the process: formatted once, appended per call.
    std::vector<RegistryEntryInfo> rows;
    for (const auto& impl : impls_) {
      const std::string why = isa_decline_reason(impl.isa);
      isa_declined_.push_back(why.empty() ? why : cat(impl.name, " declined: ", why, "; "));
      rows.push_back({op_, impl.name, isa_name(impl.isa), impl.declines != nullptr, why});
    }
    register_registry_rows(std::move(rows));
  }

  // A backend may list several algorithms (conv: 1x1-as-GEMM, depthwise,
  // narrow, blocked): the first of its entries that accepts the arguments.
  const Impl<Args>& select(const Args& args, const std::string& backend) const {
    Isa wanted;
    if (!parse_isa_backend(backend, op_, &wanted)) return select_auto(args);
    bool listed = false;
    std::string declined;
    for (const auto& impl : impls_) {
      if (impl.isa != wanted) continue;
      listed = true;
      if (!isa_built(wanted) || !isa_supported(wanted))
        throw BackendError(cat(op_, ": backend '", backend, "' is not available: ", isa_unavailable_reason(wanted)));
      std::string why = impl.declines ? impl.declines(args) : std::string();
      if (why.empty()) {
        chosen(impl, declined);
        return impl;
      }
      declined += cat(impl.name, " declined: ", why, "; ");
    }
    if (listed) throw BackendError(cat(op_, ": backend '", backend, "' declines: ", declined));
    throw BackendError(cat(op_, ": backend '", backend, "' has no implementation of this op",
                           isa_built(wanted) ? "" : " (not compiled into this build)"));
  }

  const char* op() const { return op_; }
  const std::vector<Impl<Args>>& impls() const { return impls_; }

 private:
  const Impl<Args>& select_auto(const Args& args) const {
    std::string declined;
    for (size_t i = 0; i < impls_.size(); ++i) {
      const auto& impl = impls_[i];
      if (!isa_declined_[i].empty()) {  // this CPU lacks the entry's ISA: named among the declined
        declined += isa_declined_[i];
        continue;
      }
      std::string why = impl.declines ? impl.declines(args) : std::string();
      if (why.empty()) {
        chosen(impl, declined);
        return impl;
      }
      declined += cat(impl.name, " declined: ", why, "; ");
    }
    throw ValueError(cat(op_, ": no implementation accepts these arguments: ", declined));
  }

  void chosen(const Impl<Args>& impl, const std::string& declined) const {
    record_dispatch(op_, impl.name, declined);
    if (verbose_enabled()) log_dispatch(op_, impl.name, declined);
  }

  const char* op_;
  std::vector<Impl<Args>> impls_;
  std::vector<std::string> isa_declined_;  // per entry: "<name> declined: <ISA reason>; " or ""
};

// Building the lists (one way for every family, after oneDNN's
// cpu_convolution_list.cpp): entries fastest first, the reference last, each
// ISA's entries wrapped in its macro so that a build without that ISA lists
// none of them:
//   static const Registry<Args> r("op", {
//       DLCORE_IF_AVX512({"op_avx512_algo", Isa::avx512, declines_algo, run_algo_avx512},)
//       DLCORE_IF_AVX2({"op_avx2_algo", Isa::avx2, declines_algo, run_algo_avx2},)
//       {"op_ref", Isa::ref, nullptr, run_ref},
//   });
#ifdef DLCORE_HAVE_AVX512
#define DLCORE_IF_AVX512(...) __VA_ARGS__
#else
#define DLCORE_IF_AVX512(...)
#endif
#ifdef DLCORE_HAVE_AVX2
#define DLCORE_IF_AVX2(...) __VA_ARGS__
#else
#define DLCORE_IF_AVX2(...)
#endif

}  // namespace dlcore
