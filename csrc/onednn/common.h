// Shared machinery of dlcore._onednn: the engine, thread count, the primitive
// cache and the "plan" that runs one primitive on plain NCHW user buffers.
//
// Every entry point does, in this order (GIL held until step 3):
//   1. checks (bindings/array.h, core/check.h: the same messages as _C),
//   2. plan = cached_plan(key, make) — primitive descriptors, the primitive
//      and the reorders between the user's plain layout and the layout the
//      primitive prefers (format_tag::any), built once per key (an LRU),
//   3. release the GIL, set OpenMP's thread count, plan.run(user memories).
// The key holds every shape and attribute the primitive depends on plus the
// thread count (oneDNN's OpenMP kernels split work at creation time).
#pragma once
#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/check.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlcore {
namespace onednn {

namespace py = pybind11;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// The single CPU engine and stream of the process (oneDNN streams on the CPU
// are cheap handles; execution is synchronous with the OpenMP runtime).
dnnl::engine& cpu_engine();

// dlcore.get_num_threads(), read from dlcore._C (the one source of truth).
// Needs the GIL.
int dlcore_threads();

// Sets the calling thread's OpenMP thread count (oneDNN/gomp reads it at
// primitive creation and execution) and restores the previous one on exit.
class OmpThreads {
 public:
  explicit OmpThreads(int n);
  ~OmpThreads();
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_;
};

// A plain (dense, row-major) f32 descriptor: NCHW for 4-D, OIHW for weights.
memory::desc plain_desc(const memory::dims& dims);
memory::dims to_dims(const Shape& s);

// Attributes every primitive is created with: a user-provided scratchpad, so
// one cached primitive can run from several threads at once.
dnnl::primitive_attr plan_attr();

// One primitive argument the user passes in its plain layout; when the
// primitive wants another layout the plan reorders it (before execution for
// inputs, after it for outputs).
struct PlanArg {
  int id = 0;          // DNNL_ARG_*
  memory::desc user;   // the plain layout of the NumPy buffer
  memory::desc inner;  // the layout the primitive was created with
  bool output = false;
  dnnl::reorder reorder;  // empty when user == inner
};

// A primitive ready to run on user buffers. Immutable once built, so many
// threads may run the same plan at once (scratchpad and reorder buffers are
// allocated per call).
struct Plan {
  dnnl::primitive primitive;
  std::vector<PlanArg> args;
  memory::desc scratchpad;
  memory::desc workspace;  // zero-size when the primitive has none
  std::string impl;        // oneDNN's implementation name, e.g. "jit:avx2"

  // `user`: DNNL_ARG_* -> memory over the caller's buffers (plain layout),
  // plus extra arguments (workspace, runtime scales) passed through as is.
  void run(std::unordered_map<int, memory> user) const;
};

// Builds a plan for primitive descriptor `pd`: `user_args` lists the
// (DNNL_ARG_*, plain desc, is_output) the caller will supply.
template <class PD, class Prim>
Plan make_plan(const PD& pd, const std::vector<std::tuple<int, memory::desc, bool>>& user_args);

// LRU of plans keyed by a string of every shape/attribute. Thread-safe.
std::shared_ptr<const Plan> cached_plan(const std::string& key, const std::function<Plan()>& make);
void set_cache_capacity(size_t n);
size_t cache_size();
size_t cache_capacity();
size_t cache_hits();
size_t cache_misses();
void clear_cache();

// What the last call on this thread did (for the benchmark): the seconds
// spent inside the primitive(s) alone, without reorders, how many reorders
// ran, and the implementation names.
struct CallInfo {
  double primitive_seconds = 0.0;
  double reorder_seconds = 0.0;
  int reorders = 0;
  std::string impl;
};
CallInfo& last_call();
void reset_last_call();

// memory over a caller's buffer in its plain layout.
inline memory user_memory(const memory::desc& d, const void* p) {
  return memory(d, cpu_engine(), const_cast<void*>(p));
}

// Argument parsing (int or tuple) is bindings/args.h, shared with _C and _cuda.

template <class... Parts>
std::string key_of(const Parts&... parts) {
  return cat(parts..., "|t", dlcore_threads());
}

}  // namespace onednn
}  // namespace dlcore

// ---------------------------------------------------------------------------
namespace dlcore {
namespace onednn {

template <class PD, class Prim>
Plan make_plan(const PD& pd, const std::vector<std::tuple<int, memory::desc, bool>>& user_args) {
  Plan plan;
  plan.primitive = Prim(pd);
  for (const auto& [id, user, output] : user_args) {
    PlanArg a;
    a.id = id;
    a.user = user;
    a.inner = pd.query_md(dnnl::query::exec_arg_md, id);
    a.output = output;
    if (a.inner != a.user) {
      const auto& from = output ? a.inner : a.user;
      const auto& to = output ? a.user : a.inner;
      a.reorder = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to));
    }
    plan.args.push_back(a);
  }
  plan.scratchpad = pd.scratchpad_desc();
  plan.workspace = pd.workspace_desc();
  plan.impl = pd.impl_info_str();
  return plan;
}

}  // namespace onednn
}  // namespace dlcore
