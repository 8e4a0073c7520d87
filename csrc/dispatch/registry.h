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
#pragma once
#include <string>
#include <vector>

#include "core/check.h"
#include "core/cpu.h"

namespace dlcore {

bool verbose_enabled();
void set_verbose(bool on);
// Records "<op>:<impl>" as the last choice made on this thread (for tests and
// for dlcore.kernels.last_dispatch()).
void record_dispatch(const char* op, const char* impl);
std::string last_dispatch();
// The reasons the faster implementations declined in that last choice ("" when
// none did), "<impl> declined: <why>; ..." (for dlcore.explain).
void record_declined(const std::string& declined);
std::string last_declined();
void log_dispatch(const char* op, const char* impl, const std::string& declined);
// Parses "ref" / "avx2" / "avx512"; "auto" returns false. Anything else throws.
bool parse_isa_backend(const std::string& backend, const char* op, Isa* out);

template <class Args>
struct Impl {
  const char* name;                            // e.g. "gemm_avx2_6x16"
  Isa isa;                                     // the backend name that selects it
  std::string (*declines)(const Args&);        // "" when it accepts; may be nullptr
  void (*run)(const Args&);                    // the kernel; called without the GIL
};

template <class Args>
class Registry {
 public:
  Registry(const char* op, std::vector<Impl<Args>> impls) : op_(op), impls_(std::move(impls)) {}

  const Impl<Args>& select(const Args& args, const std::string& backend) const {
    Isa wanted;
    if (!parse_isa_backend(backend, op_, &wanted)) return select_auto(args);
    for (const auto& impl : impls_) {
      if (impl.isa != wanted) continue;
      if (!isa_built(wanted) || !isa_supported(wanted))
        throw BackendError(cat(op_, ": backend '", backend, "' is not available: ",
                               isa_unavailable_reason(wanted)));
      std::string why = impl.declines ? impl.declines(args) : std::string();
      if (!why.empty())
        throw BackendError(cat(op_, ": backend '", backend, "' (", impl.name, ") declines: ", why));
      chosen(impl, "");
      return impl;
    }
    throw BackendError(cat(op_, ": backend '", backend, "' has no implementation of this op",
                           isa_built(wanted) ? "" : " (not compiled into this build)"));
  }

  const char* op() const { return op_; }
  const std::vector<Impl<Args>>& impls() const { return impls_; }

 private:
  const Impl<Args>& select_auto(const Args& args) const {
    std::string declined;
    for (const auto& impl : impls_) {
      if (!isa_built(impl.isa) || !isa_supported(impl.isa)) continue;
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
    record_dispatch(op_, impl.name);
    record_declined(declined);
    if (verbose_enabled()) log_dispatch(op_, impl.name, declined);
  }

  const char* op_;
  std::vector<Impl<Args>> impls_;
};

}  // namespace dlcore
