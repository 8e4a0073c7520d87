#include "dispatch/registry.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace dlcore {

static std::atomic<bool>& verbose_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("DLCORE_VERBOSE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }()};
  return flag;
}

bool verbose_enabled() { return verbose_flag().load(std::memory_order_relaxed); }
void set_verbose(bool on) { verbose_flag().store(on); }

// Every kernel call records here, so this stays cheap: appends into a
// thread-local string whose capacity is reused (no stream formatting). The
// names are copied: callers may pass temporaries.
static thread_local std::string t_last_dispatch;
static thread_local std::string t_last_declined;

void record_dispatch(const char* op, const char* impl, const std::string& declined) {
  t_last_dispatch.assign(op);
  t_last_dispatch += ':';
  t_last_dispatch += impl;
  t_last_declined.assign(declined);
}

std::string last_dispatch() { return t_last_dispatch; }
std::string last_dispatch_declined() { return t_last_declined; }

void log_dispatch(const char* op, const char* impl, const std::string& declined) {
  if (declined.empty())
    std::fprintf(stderr, "dlcore: %s -> %s\n", op, impl);
  else
    std::fprintf(stderr, "dlcore: %s -> %s (%s)\n", op, impl, declined.c_str());
}

static std::mutex& rows_mutex() {
  static std::mutex m;
  return m;
}
static std::vector<RegistryEntryInfo>& rows_store() {
  static std::vector<RegistryEntryInfo> rows;
  return rows;
}

void register_registry_rows(std::vector<RegistryEntryInfo> rows) {
  std::lock_guard<std::mutex> lock(rows_mutex());
  auto& all = rows_store();
  all.insert(all.end(), rows.begin(), rows.end());
}

std::vector<RegistryEntryInfo> registry_rows() {
  std::lock_guard<std::mutex> lock(rows_mutex());
  return rows_store();
}

std::string isa_decline_reason(Isa isa) {
  return isa_built(isa) && isa_supported(isa) ? std::string() : isa_unavailable_reason(isa);
}

bool parse_isa_backend(const std::string& backend, const char* op, Isa* out) {
  if (backend == "auto") return false;
  for (Isa isa : kAllIsas) {
    if (backend == isa_name(isa)) {
      *out = isa;
      return true;
    }
  }
  throw BackendError(cat(op, ": unknown backend '", backend,
                         "' for the CPU module (expected 'auto', 'ref', 'avx2', 'avx512', 'avx512_vnni', "
                         "'avx_vnni', 'avx512_bf16', 'amx' or 'avx512_vpopcnt')"));
}

}  // namespace dlcore
