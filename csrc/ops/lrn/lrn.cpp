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

// Across-channel forward work units: (image, block of channels, chunk of
// positions).
//
// Chunk: up to 1024 positions (4 KiB per row: the `size` rows of the window
// and the output row stay within the 32 KiB L1), so that
// planes up to 32x32 are one chunk and a unit reads its channels as one
// sequential stream. AlexNet norm2 (27x27 = 729), 1 thread: 3.9 ms with
// 256-position chunks (rows jumping by the plane stride), 3.0 with one
// 736-position chunk.
// Channel blocks: the fewest that split the units evenly (within 5%) over
// the threads, rather than smaller chunks: 11 norm2 images over 2 threads
// run as 22 half-images of 128 channels, each still one stream (2 threads:
// 1.95 -> 1.56 ms, 1.00 -> 1.22x oneDNN; the former 368-position half-plane
// chunks read every row in two pieces). A block re-reads the size - 1
// channels around its edges, so blocks keep at least 16 channels.
void across_forward_units(LrnArgs* a) {
  const int64_t hw = a->plane(), threads = get_num_threads();
  const int64_t pieces = (hw + 1023) / 1024;
  a->chunk = ((hw + pieces - 1) / pieces + 15) / 16 * 16;
  const int64_t chunks = (hw + a->chunk - 1) / a->chunk;
  int64_t blocks = 1;
  for (;; ++blocks) {
    const int64_t units = a->n * chunks * blocks;
    const int64_t nt = std::min(threads, units);
    const int64_t per_thread = (units + nt - 1) / nt;
    if (per_thread * nt * 20 <= units * 21 || (a->c + blocks) / (blocks + 1) < 16) break;
  }
  a->cblock = (a->c + blocks - 1) / blocks;
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
    across_forward_units(&a);
    const int64_t units = a.n * ((a.c + a.cblock - 1) / a.cblock) * ((a.plane() + a.chunk - 1) / a.chunk);
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
