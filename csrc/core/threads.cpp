#include "core/threads.h"

#include "core/pool.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/check.h"

namespace dlcore {

static std::atomic<int>& thread_count() {
  static std::atomic<int> count{omp_get_max_threads()};
  return count;
}

void set_num_threads(int n) {
  DLCORE_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  thread_count().store(n);
}

int get_num_threads() { return thread_count().load(std::memory_order_relaxed); }

// An idle worker polls this long before sleeping. Long enough to catch the
// next kernel of a training step (back-to-back calls are µs apart), short
// enough that our threads go quiet right after the last call instead of
// competing with NumPy's BLAS or another process for the cores.
constexpr int kPoolSpinMicros = 50;

int pool_spin_micros() {
  static const int us = [] {
    const char* s = std::getenv("DLCORE_POOL_SPIN_US");
    return s ? std::max(0, std::atoi(s)) : kPoolSpinMicros;
  }();
  return us;
}

namespace {

// One parallel_tiles call. Shared (shared_ptr) so that a worker waking after
// the call returned still reads valid counters; it reads `body` only after
// claiming a tile below `total`, i.e. while the caller is still waiting.
struct Job {
  const std::function<void(int64_t)>* body;
  int64_t total;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> seats{0};  // workers still allowed to join (nt - 1)
  int caller_cpu = -1;        // where the caller runs (sched_getcpu), or -1
  std::mutex err_mu;
  std::exception_ptr err;
};

thread_local bool t_in_tile = false;

void run_tiles(Job& j) {
  for (;;) {
    const int64_t i = j.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= j.total) return;
    t_in_tile = true;
    try {
      (*j.body)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lk(j.err_mu);
      if (!j.err) j.err = std::current_exception();
    }
    t_in_tile = false;
    j.done.fetch_add(1, std::memory_order_release);
  }
}

#if defined(__linux__)
// The CPUs of OpenMP place `place`, added to `set`.
void add_place_cpus(int place, cpu_set_t* set) {
  std::vector<int> ids(size_t(std::max(0, omp_get_place_num_procs(place))));
  omp_get_place_proc_ids(place, ids.data());
  for (int id : ids)
    if (id >= 0 && id < CPU_SETSIZE) CPU_SET(id, set);
}

// Where pool worker `index` (0, 1, ...) runs when OpenMP binds threads
// (OMP_PROC_BIND set): the place after its creator's, and so on around the
// places, as OpenMP's "close" policy places a team; or every place when the
// creator is not bound to one. False when OpenMP binds nothing: the worker
// keeps the mask it inherits (taskset, numactl, a cgroup).
// Why: libgomp binds the initial thread to one place at startup, and a
// std::thread inherits its creator's mask, so every worker sat on the
// caller's one CPU: 512^3 at 2 threads, Zen 4, 2026-12-05, with
// OMP_PROC_BIND=true 2.52 ms a call against 1.53 without (both threads on
// CPU 0; leave_cpu cannot move a thread whose mask is one CPU).
bool bound_worker_cpus(int index, cpu_set_t* set) {
  const int places = omp_get_num_places();
  if (omp_get_proc_bind() == omp_proc_bind_false || places <= 0) return false;
  CPU_ZERO(set);
  const int home = omp_get_place_num();
  if (home >= 0) {
    add_place_cpus((home + 1 + index) % places, set);
  } else {
    for (int p = 0; p < places; ++p) add_place_cpus(p, set);
  }
  return CPU_COUNT(set) > 0;
}
#endif

class Pool {
 public:
  // Workers are detached and the pool is never destroyed: nothing to join at
  // interpreter exit. After fork() the child gets a fresh pool (see pool()).
  void ensure_workers(int n) {
    std::lock_guard<std::mutex> lk(mu_);
    while (int(nworkers_) < n) {
#if defined(__linux__)
      cpu_set_t cpus;
      const bool bind = bound_worker_cpus(int(nworkers_), &cpus);
      std::thread([this, bind, cpus] {
        if (bind) sched_setaffinity(0, sizeof(cpus), &cpus);  // on failure: the inherited mask
        worker();
      }).detach();
#else
      std::thread([this] { worker(); }).detach();
#endif
      ++nworkers_;
    }
  }

  void publish(std::shared_ptr<Job> j) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = std::move(j);
      gen_.store(gen_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    cv_.notify_all();
  }

  std::mutex call_mu;  // one parallel_tiles call at a time

 private:
  void worker() {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "dlcore-pool");  // for top -H, /proc and the tests
#endif
    uint64_t seen = gen_.load(std::memory_order_acquire);
    for (;;) {
      // Poll briefly (yielding), then sleep until the next call.
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(pool_spin_micros());
      while (gen_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
      std::shared_ptr<Job> j;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_.load(std::memory_order_relaxed) != seen; });
        seen = gen_.load(std::memory_order_relaxed);
        j = job_;
      }
      if (j && j->seats.fetch_sub(1, std::memory_order_relaxed) > 0) {
        leave_cpu(j->caller_cpu);
        run_tiles(*j);
        // The spin window counts from the end of the call, not from this
        // worker's last tile: with 2-8 tiles a call, the caller may still be
        // running its last one for a whole tile's time (ms), and a worker
        // asleep by then wakes ~250 us late for the next call on this VM,
        // leaving the caller most of it (128x784x1152, 2 threads, Zen 4,
        // 2026-12-04: 103 -> 155 GFLOP/s; 512x49x4608: 73 -> 119).
        while (j->done.load(std::memory_order_acquire) < j->total && gen_.load(std::memory_order_acquire) == seen)
          std::this_thread::yield();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};
  std::shared_ptr<Job> job_;
  size_t nworkers_ = 0;
};

Pool& pool() {
  static std::mutex mu;
  static Pool* p = nullptr;
  static pid_t owner = 0;
  std::lock_guard<std::mutex> lk(mu);
  // A forked child has none of the parent's worker threads: start anew
  // (the parent's pool object is leaked on purpose, its mutexes may be held).
  if (!p || owner != getpid()) {
    p = new Pool;
    owner = getpid();
  }
  return *p;
}

}  // namespace

// The CPU the calling thread runs on, or -1 where that cannot be known.
static int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// A worker woken for a call can be placed on its caller's CPU and stay
// there while another CPU idles: on this KVM guest an idle vCPU reads as
// preempted after a pause of ~0.1 s, so the kernel's wake-up places the
// worker beside its waker, and the two then share one core until load
// balancing moves one (tens of ms). A 2-thread GEMM ran at one-thread speed
// for whole blocks of calls after every pause (512^3, Zen 4, 2026-12-04:
// 2.5-2.9 ms instead of 1.3 in about half the blocks after a 0.2 s sleep;
// /proc showed both threads on CPU 0). So a worker that finds itself on its
// caller's CPU moves: its affinity without that CPU (the kernel migrates it
// at once), then its own mask back, which keeps it where it now runs.
void leave_cpu(int cpu) {
#if defined(__linux__)
  if (cpu < 0 || current_cpu() != cpu) return;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0 || !CPU_ISSET(cpu, &mask) || CPU_COUNT(&mask) < 2) return;
  cpu_set_t others = mask;
  CPU_CLR(cpu, &others);
  if (sched_setaffinity(0, sizeof(others), &others) == 0) sched_setaffinity(0, sizeof(mask), &mask);
#else
  (void)cpu;
#endif
}

static std::atomic<int64_t> g_parallel_calls{0};
int64_t pool_parallel_calls() { return g_parallel_calls.load(std::memory_order_relaxed); }

void parallel_tiles(int64_t tiles, int nt, const std::function<void(int64_t)>& body) {
  if (tiles <= 0) return;
  nt = int(std::min<int64_t>(nt, tiles));
  auto serial = [&] {
    for (int64_t i = 0; i < tiles; ++i) body(i);
  };
  if (nt <= 1 || t_in_tile || omp_in_parallel()) return serial();
  Pool& p = pool();
  std::unique_lock<std::mutex> busy(p.call_mu, std::try_to_lock);
  if (!busy.owns_lock()) return serial();  // another Python thread holds the pool
  p.ensure_workers(nt - 1);
  auto j = std::make_shared<Job>();
  j->body = &body;
  j->total = tiles;
  j->seats.store(nt - 1, std::memory_order_relaxed);
  j->caller_cpu = current_cpu();
  p.publish(j);
  g_parallel_calls.fetch_add(1, std::memory_order_relaxed);
  run_tiles(*j);
  // No worker came: one may be waiting for this CPU, placed beside us at its
  // wake-up (see leave_cpu). Let it run once, so it moves for the next call.
  if (j->seats.load(std::memory_order_relaxed) == nt - 1) std::this_thread::yield();
  // Wait only for tiles other threads claimed; yield so a descheduled
  // worker holding one gets the core back sooner.
  while (j->done.load(std::memory_order_acquire) < tiles) std::this_thread::yield();
  if (j->err) std::rethrow_exception(j->err);
}

}  // namespace dlcore
