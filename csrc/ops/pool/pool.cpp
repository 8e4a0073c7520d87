// Pooling: geometry checks, the threaded drivers, the scalar reference and the
// registries (fastest first, reference last). The kernel bodies are in
// pool_kernels.h; this file is baseline code.
#include "ops/pool/pool.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/parallel.h"
#include "core/threads.h"
#include "ops/pool/pool_kernels.h"

namespace dlcore {

namespace {

int64_t fwd_bytes(const PoolGeom& g, bool with_indices) {
  return 4 * g.planes() * (g.in_plane() + g.out_plane() * (with_indices ? 2 : 1));
}

void max_forward(const PoolArgs& a, const PoolKernels& k) {
  parallel_units(a.g.planes() * a.g.oh, fwd_bytes(a.g, true),
                 [&](int64_t b, int64_t e) { k.max_forward_rows(a, b, e); });
}

void avg_forward(const PoolArgs& a, const PoolKernels& k) {
  parallel_units(a.g.planes() * a.g.oh, fwd_bytes(a.g, false),
                 [&](int64_t b, int64_t e) { k.avg_forward_rows(a, b, e); });
}

void max_forward_gather(const PoolArgs& a, const PoolKernels& k) {
  parallel_units(a.g.planes() * a.g.oh, fwd_bytes(a.g, true),
                 [&](int64_t b, int64_t e) { k.max_forward_rows_gather(a, b, e); });
}

void avg_forward_gather(const PoolArgs& a, const PoolKernels& k) {
  parallel_units(a.g.planes() * a.g.oh, fwd_bytes(a.g, false),
                 [&](int64_t b, int64_t e) { k.avg_forward_rows_gather(a, b, e); });
}

void max_backward(const PoolArgs& a, const PoolKernels& k) {
  std::atomic<int64_t> bad{0};
  parallel_units(a.g.planes(), fwd_bytes(a.g, true),
                 [&](int64_t b, int64_t e) { bad += k.max_backward_planes(a, b, e); });
  a.bad_indices = bad.load();
}

void avg_backward(const PoolArgs& a, const PoolKernels& k) {
  parallel_units(a.g.planes(), fwd_bytes(a.g, false), [&](int64_t b, int64_t e) {
    thread_local ScratchBuffer scratch;
    k.avg_backward_planes(a, b, e, scratch.get(size_t(a.g.oh * a.g.w)));
  });
}

template <void (*Driver)(const PoolArgs&, const PoolKernels&), const PoolKernels& (*Table)()>
void run(const PoolArgs& a) {
  Driver(a, Table());
}

}  // namespace

const PoolKernels& pool_kernels_ref() { return pool::pool_kernel_table<simd::Scalar>(); }

namespace {

// Every implementation accepts every geometry (declines: nullptr).
template <void (*Driver)(const PoolArgs&, const PoolKernels&)>
std::vector<Impl<PoolArgs>> pool_impls(const char* avx512, const char* avx2, const char* ref) {
  // Built like every list (dispatch/registry.h): one entry per ISA, each wrapped in its macro.
  return {
      DLCORE_IF_AVX512({avx512, Isa::avx512, nullptr, &run<Driver, pool_kernels_avx512>}, )
          DLCORE_IF_AVX2({avx2, Isa::avx2, nullptr, &run<Driver, pool_kernels_avx2>}, ){ref, Isa::ref, nullptr,
                                                                                        &run<Driver, pool_kernels_ref>},
  };
}

// The forward's shuffle-load rows serve strides 1 and 2 along W (nearly every
// network); other strides decline to the gather entry of the same ISA.
std::string declines_shuffle(const PoolArgs& a) {
  return a.g.sw == 1 || a.g.sw == 2 ? std::string()
                                    : cat("stride along W is ", a.g.sw, ": shuffle loads serve strides 1 and 2");
}

template <void (*Shuffle)(const PoolArgs&, const PoolKernels&), void (*Gather)(const PoolArgs&, const PoolKernels&)>
std::vector<Impl<PoolArgs>> pool_forward_impls(const char* op) {
  // Entry names must outlive the (static) registry: made once per op, never freed.
  auto name = [op](const char* suffix) { return (new std::string(cat(op, suffix)))->c_str(); };
  const char* s512 = name("_avx512_shuffle");
  const char* g512 = name("_avx512_gather");
  const char* s2 = name("_avx2_shuffle");
  const char* g2 = name("_avx2_gather");
  const char* ref = name("_ref");
  (void)s512, (void)g512, (void)s2, (void)g2;
  return {
      DLCORE_IF_AVX512({s512, Isa::avx512, declines_shuffle, &run<Shuffle, pool_kernels_avx512>},
                       {g512, Isa::avx512, nullptr, &run<Gather, pool_kernels_avx512>}, )
          DLCORE_IF_AVX2({s2, Isa::avx2, declines_shuffle, &run<Shuffle, pool_kernels_avx2>},
                         {g2, Isa::avx2, nullptr, &run<Gather, pool_kernels_avx2>}, ){ref, Isa::ref, nullptr,
                                                                                      &run<Shuffle, pool_kernels_ref>},
  };
}

}  // namespace

const Registry<PoolArgs>& max_pool2d_forward_registry() {
  static const Registry<PoolArgs> r("max_pool2d_forward",
                                    pool_forward_impls<max_forward, max_forward_gather>("max_pool2d_forward"));
  return r;
}

const Registry<PoolArgs>& max_pool2d_backward_registry() {
  static const Registry<PoolArgs> r(
      "max_pool2d_backward",
      pool_impls<max_backward>("max_pool2d_backward_avx512", "max_pool2d_backward_avx2", "max_pool2d_backward_ref"));
  return r;
}

const Registry<PoolArgs>& avg_pool2d_forward_registry() {
  static const Registry<PoolArgs> r("avg_pool2d_forward",
                                    pool_forward_impls<avg_forward, avg_forward_gather>("avg_pool2d_forward"));
  return r;
}

const Registry<PoolArgs>& avg_pool2d_backward_registry() {
  static const Registry<PoolArgs> r(
      "avg_pool2d_backward",
      pool_impls<avg_backward>("avg_pool2d_backward_avx512", "avg_pool2d_backward_avx2", "avg_pool2d_backward_ref"));
  return r;
}

}  // namespace dlcore
