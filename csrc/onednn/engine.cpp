// Engine, thread count, the plan runner and the LRU primitive cache.
#include <omp.h>

#include <chrono>
#include <list>
#include <mutex>

#include "onednn/common.h"

namespace dlcore {
namespace onednn {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

static dnnl::stream& cpu_stream() {
  // Streams are not thread-safe: one per calling thread (a cheap handle).
  static thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

int dlcore_threads() {
  // Leaked on purpose: a py::object in a static would be released after the
  // interpreter is gone.
  static py::object* get = new py::object(py::module_::import("dlcore._C").attr("get_num_threads"));
  return (*get)().cast<int>();
}

OmpThreads::OmpThreads(int n) : previous_(omp_get_max_threads()) { omp_set_num_threads(n); }
OmpThreads::~OmpThreads() { omp_set_num_threads(previous_); }

memory::desc plain_desc(const memory::dims& dims) {
  static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde};
  if (dims.size() >= 1 && dims.size() <= 5) return memory::desc(dims, dt::f32, tags[dims.size()]);
  throw ValueError(cat("oneDNN: rank ", dims.size(), " is not supported"));
}

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

dnnl::primitive_attr plan_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// --- last-call info ---------------------------------------------------------
CallInfo& last_call() {
  static thread_local CallInfo info;
  return info;
}
void reset_last_call() { last_call() = CallInfo(); }

static double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --- plan runner ------------------------------------------------------------
void Plan::run(std::unordered_map<int, memory> user) const {
  auto& stream = cpu_stream();
  CallInfo& info = last_call();
  std::unordered_map<int, memory> exec = user;
  std::vector<std::pair<const PlanArg*, memory>> to_write_back;
  auto t0 = std::chrono::steady_clock::now();
  for (const PlanArg& a : args) {
    auto it = user.find(a.id);
    if (it == user.end()) throw std::logic_error(cat("oneDNN plan: argument ", a.id, " missing"));
    if (!a.reorder) continue;
    memory inner(a.inner, cpu_engine());
    if (a.output) {
      to_write_back.emplace_back(&a, it->second);
    } else {
      a.reorder.execute(stream, it->second, inner);
      ++info.reorders;
    }
    exec[a.id] = inner;
  }
  if (scratchpad.get_size() > 0) exec[DNNL_ARG_SCRATCHPAD] = memory(scratchpad, cpu_engine());
  stream.wait();
  info.reorder_seconds += seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  primitive.execute(stream, exec);
  stream.wait();
  info.primitive_seconds += seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  for (auto& [a, dst] : to_write_back) {
    a->reorder.execute(stream, exec[a->id], dst);
    ++info.reorders;
  }
  stream.wait();
  info.reorder_seconds += seconds_since(t0);
  info.impl += (info.impl.empty() ? "" : ",") + impl;
}

// --- LRU cache --------------------------------------------------------------
namespace {
struct Cache {
  std::mutex mutex;
  size_t capacity = 512;
  size_t hits = 0, misses = 0;
  // Most recently used at the front.
  std::list<std::pair<std::string, std::shared_ptr<const Plan>>> order;
  std::unordered_map<std::string, decltype(order)::iterator> index;

  void trim() {
    while (order.size() > capacity) {
      index.erase(order.back().first);
      order.pop_back();
    }
  }
};
Cache& cache() {
  static Cache* c = new Cache();  // leaked: plans must outlive static destruction order issues
  return *c;
}
}  // namespace

std::shared_ptr<const Plan> cached_plan(const std::string& key, const std::function<Plan()>& make) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.index.find(key);
    if (it != c.index.end()) {
      ++c.hits;
      c.order.splice(c.order.begin(), c.order, it->second);
      return it->second->second;
    }
    ++c.misses;
  }
  // Built outside the lock: creating a primitive can take milliseconds and
  // other shapes should not wait. Two threads racing on one key both build;
  // the first insert wins.
  // oneDNN fixes a primitive's thread count when it creates it (its jit
  // kernels split the work for omp_get_max_threads() then), so creation runs
  // under dlcore's count too: before, a plan made under set_num_threads(1)
  // still ran on every core (measured: CPU time / wall time 2.0 on 2 cores).
  std::shared_ptr<const Plan> plan;
  {
    OmpThreads scope(dlcore_threads());
    plan = std::make_shared<const Plan>(make());
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.index.find(key);
  if (it != c.index.end()) return it->second->second;
  c.order.emplace_front(key, plan);
  c.index[key] = c.order.begin();
  c.trim();
  return plan;
}

void set_cache_capacity(size_t n) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.capacity = n;
  c.trim();
}
size_t cache_size() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().order.size();
}
size_t cache_capacity() { return cache().capacity; }
size_t cache_hits() { return cache().hits; }
size_t cache_misses() { return cache().misses; }
void clear_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.order.clear();
  c.index.clear();
  c.hits = c.misses = 0;
}

}  // namespace onednn
}  // namespace dlcore
