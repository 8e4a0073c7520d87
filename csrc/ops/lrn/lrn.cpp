// LRN: the OpenMP drivers, the scalar reference and the registries (fastest
// first, reference last). Kernel bodies are in lrn_kernels.h; this file is
// baseline code.
#include "ops/lrn/lrn.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/buffer.h"
#include "core/parallel.h"
#include "core/threads.h"
#include "ops/lrn/lrn_kernels.h"

namespace dlcore {

const LrnKernels& lrn_kernels_ref() { return lrn::lrn_kernel_table<simd::Scalar>(); }

const LrnKernels& lrn_kernels_for(const std::string& backend) {
  Isa isa = best_isa();
  if (backend != "auto") {
    parse_isa_backend(backend, "lrn", &isa);
    if (!isa_built(isa) || !isa_supported(isa))
      throw BackendError(cat("lrn: backend '", backend, "' is not available: ", isa_unavailable_reason(isa)));
  }
  switch (isa) {
#ifdef DLCORE_HAVE_AVX512
    case Isa::avx512: return lrn_kernels_avx512();
#endif
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2: return lrn_kernels_avx2();
#endif
    default: return lrn_kernels_ref();
  }
}

namespace {

// Spatial positions per across-channel work unit, a multiple of 16 (the
// widest vector).
//
// Forward: up to 1024 positions (4 KiB per channel row: the `size` rows of
// the window plus the output row stay within the 32 KiB L1), so that planes
// up to 32x32 are one unit per image and the walk over the channels reads
// the image as one sequential stream. AlexNet norm2 (27x27 = 729), 1 thread:
// 3.9 ms with 256-position chunks (256 + 256 + 217, rows jumping by the plane
// stride), 3.0 with one 736-position chunk. The chunk then shrinks (down to
// 256) while the units would not split evenly over the threads: 11 norm2
// images over 2 threads would leave one thread 6 and the other 5.
//
// Backward keeps 2 * C * chunk floats of scratch plus the chunk of x and dy
// (4 * C * chunk floats): chunk = 16K / C keeps that at 256 KiB, half the L2
// of this machine's cores.
int64_t across_forward_chunk(const LrnArgs& a) {
  const int64_t hw = a.plane(), threads = get_num_threads();
  auto round16 = [](int64_t v) { return (v + 15) / 16 * 16; };
  int64_t chunk = round16(std::min<int64_t>(hw, 1024));
  for (int64_t pieces = (hw + 1023) / 1024;; ++pieces) {
    chunk = round16((hw + pieces - 1) / pieces);
    const int64_t units = a.n * ((hw + chunk - 1) / chunk);
    const int64_t nt = std::min(threads, units);
    const int64_t per_thread = (units + nt - 1) / nt;
    if (per_thread * nt * 20 <= units * 21 || chunk <= 256) break;  // within 5% of even
  }
  return chunk;
}

int64_t across_backward_chunk(const LrnArgs& a) {
  const int64_t chunk = std::clamp<int64_t>((16384 / std::max<int64_t>(1, a.c)) / 16 * 16, 16, 256);
  return std::min(chunk, (a.plane() + 15) / 16 * 16);
}

int64_t within_scratch(const LrnArgs& a, bool backward) {
  return lrn::row_scratch_floats(a) + (backward ? 2 * a.plane() : 0);
}

void forward(const LrnArgs& in, const LrnKernels& k) {
  LrnArgs a = in;
  if (a.n * a.c * a.plane() == 0) return;
  const int64_t bytes = 8 * a.n * a.c * a.plane();
  if (a.across) {
    a.chunk = across_forward_chunk(a);
    const int64_t units = a.n * ((a.plane() + a.chunk - 1) / a.chunk);
    parallel_units(units, bytes, [&](int64_t b, int64_t e) { k.across_forward(a, b, e); });
  } else {
    parallel_units(a.n * a.c, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      k.within_forward(a, b, e, scratch.get(size_t(within_scratch(a, false))));
    });
  }
}

void backward(const LrnArgs& in, const LrnKernels& k) {
  LrnArgs a = in;
  if (a.n * a.c * a.plane() == 0) return;
  const int64_t bytes = 12 * a.n * a.c * a.plane();
  if (a.across) {
    a.chunk = across_backward_chunk(a);
    const int64_t units = a.n * ((a.plane() + a.chunk - 1) / a.chunk);
    parallel_units(units, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      k.across_backward(a, b, e, scratch.get(size_t(2 * a.c * a.chunk)));
    });
  } else {
    parallel_units(a.n * a.c, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      k.within_backward(a, b, e, scratch.get(size_t(within_scratch(a, true))));
    });
  }
}

template <void (*Driver)(const LrnArgs&, const LrnKernels&), const LrnKernels& (*Table)()>
void run(const LrnArgs& a) {
  Driver(a, Table());
}

template <void (*Driver)(const LrnArgs&, const LrnKernels&)>
std::vector<Impl<LrnArgs>> lrn_impls(const char* avx512, const char* avx2, const char* ref) {
  std::vector<Impl<LrnArgs>> impls;
#ifdef DLCORE_HAVE_AVX512
  impls.push_back({avx512, Isa::avx512, nullptr, &run<Driver, lrn_kernels_avx512>});
#endif
#ifdef DLCORE_HAVE_AVX2
  impls.push_back({avx2, Isa::avx2, nullptr, &run<Driver, lrn_kernels_avx2>});
#endif
  impls.push_back({ref, Isa::ref, nullptr, &run<Driver, lrn_kernels_ref>});
  return impls;
}

}  // namespace

// Every implementation accepts every shape and hyper-parameter the entry lets
// through (declines: nullptr).
const Registry<LrnArgs>& lrn_forward_registry() {
  static const Registry<LrnArgs> r("lrn_forward",
                                   lrn_impls<forward>("lrn_forward_avx512", "lrn_forward_avx2", "lrn_forward_ref"));
  return r;
}

const Registry<LrnArgs>& lrn_backward_registry() {
  static const Registry<LrnArgs> r(
      "lrn_backward", lrn_impls<backward>("lrn_backward_avx512", "lrn_backward_avx2", "lrn_backward_ref"));
  return r;
}

}  // namespace dlcore
