// A cache of large host buffers for kernel outputs.
//
// Why: a fresh multi-megabyte array is new address space (glibc mmaps every
// block above 32 MiB, and trims its heap below that), so the kernel that
// first writes it takes a page fault per page and the OS zeroes the page
// first. On the 2-core dev machine a 205 MB ReLU output (VGG conv1_2 at
// minibatch 8) spent about as long in page faults as in the kernel: every
// streaming kernel ran at ~45% of copy bandwidth there. A training loop frees
// and re-allocates the same sizes every step, so freed blocks are kept here,
// already faulted in, and handed to the next request of the same size class
// (the habit jemalloc/tcmalloc give PyTorch when preloaded; CuPy keeps a pool
// on the GPU for the same reason).
//
// Policy: blocks of at least kMinBytes go through the cache (smaller ones stay
// with NumPy's allocator, whose heap reuse already works). kMinBytes was 1 MiB
// until LeNet-5 at batch 32 (issue 16) showed the gap: its 150-600 KB
// activations came from glibc, whose dynamic mmap/trim thresholds handed the
// pages back and faulted them in again every step (600 minor faults per step,
// a third of a 1-thread step on this VM, and page zeroing competes for memory
// bandwidth when both cores run). 64 KiB (16 pages) keeps tiny arrays, where
// a fault is cheap next to the Python call, with NumPy. Sizes round up to a
// class (1/8 of a power of two: at most 12.5% slack), so repeated requests of
// one shape meet the same block. A freed block is kept while the cache holds
// at most `limit` bytes; beyond it the least recently freed blocks go back to
// the OS. Blocks of 2 MiB and more are 2 MiB aligned and advised as huge
// pages (Linux THP): a first touch costs one fault per 2 MiB. The limit is
// min(physical memory / 8, 4 GiB) unless DLCORE_HOST_CACHE_BYTES says
// otherwise (0 turns the cache off); dlcore.set_host_cache_limit() and
// dlcore.empty_host_cache() change it at run time.
//
// Header-only: each extension module (_C, _onednn) has its own instance.
// Thread-safe (one mutex); allocation and release run with the GIL held.
#pragma once
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace dlcore {

class HostCache {
 public:
  static constexpr size_t kMinBytes = size_t(64) << 10;
  // At most this many freed blocks are kept (the oldest go first): allocate()
  // scans the list, so its length must stay small whatever the limit in bytes.
  static constexpr size_t kMaxBlocks = 1024;
  static constexpr size_t kHugePage = size_t(2) << 20;

  struct Stats {
    size_t cached_bytes, cached_blocks, limit, hits, misses;
  };

  // Never destroyed: arrays may outlive the module's static destructors.
  static HostCache& instance() {
    static HostCache* cache = new HostCache(default_limit());
    return *cache;
  }

  // The size class `bytes` rounds up to (bytes >= kMinBytes).
  static size_t size_class(size_t bytes) {
    size_t top = size_t(1) << (63 - __builtin_clzll(uint64_t(bytes)));  // largest power of two <= bytes
    const size_t step = std::max<size_t>(top / 8, 4096);
    return (bytes + step - 1) / step * step;
  }

  // A block of size_class(bytes) bytes, 64-byte aligned (2 MiB from 2 MiB up).
  // Throws std::bad_alloc.
  void* allocate(size_t bytes) {
    const size_t size = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = free_.size(); i-- > 0;) {  // the most recently freed first: warmest in cache
        if (free_[i].bytes != size) continue;
        void* p = free_[i].ptr;
        cached_ -= size;
        free_.erase(free_.begin() + std::ptrdiff_t(i));
        ++hits_;
        return p;
      }
      ++misses_;
    }
    return fresh(size);
  }

  // Gives back a block from allocate(bytes): kept for reuse or freed.
  void release(void* p, size_t bytes) {
    const size_t size = size_class(bytes);
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (size > limit_) {
        drop.push_back(p);
      } else {
        free_.push_back({p, size});  // most recently freed last
        cached_ += size;
        evict_locked(limit_, &drop);
      }
    }
    for (void* q : drop) std::free(q);
  }

  // Off (limit 0): callers allocate elsewhere rather than pay a fresh
  // block per call.
  bool enabled() {
    std::lock_guard<std::mutex> lock(mu_);
    return limit_ > 0;
  }

  void set_limit(size_t limit) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      limit_ = limit;
      evict_locked(limit_, &drop);
    }
    for (void* q : drop) std::free(q);
  }

  // Frees every cached block (live arrays are untouched).
  void empty() {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      evict_locked(0, &drop);
    }
    for (void* q : drop) std::free(q);
  }

  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {cached_, free_.size(), limit_, hits_, misses_};
  }

 private:
  struct Block {
    void* ptr;
    size_t bytes;
  };

  explicit HostCache(size_t limit) : limit_(limit) {}

  static size_t default_limit() {
    if (const char* env = std::getenv("DLCORE_HOST_CACHE_BYTES")) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') return size_t(v);
    }
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
    return std::min<size_t>(ram / 8, size_t(4) << 30);
  }

  static void* fresh(size_t size) {
    const size_t align = size >= kHugePage ? kHugePage : 64;
    void* p = std::aligned_alloc(align, (size + align - 1) / align * align);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHugePage) madvise(p, size, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    return p;
  }

  // Oldest first until at most `keep` bytes (and kMaxBlocks blocks) stay cached.
  void evict_locked(size_t keep, std::vector<void*>* drop) {
    size_t n = 0;
    while (n < free_.size() && (cached_ > keep || free_.size() - n > kMaxBlocks)) {
      cached_ -= free_[n].bytes;
      drop->push_back(free_[n].ptr);
      ++n;
    }
    free_.erase(free_.begin(), free_.begin() + std::ptrdiff_t(n));
  }

  std::mutex mu_;
  std::vector<Block> free_;  // least recently freed first
  size_t cached_ = 0, limit_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace dlcore
