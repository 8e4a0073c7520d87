// LRN: the OpenMP drivers, the scalar reference and the registries (fastest
// first, reference last). Kernel bodies are in lrn_kernels.h; this file is
// baseline code.
#include "ops/lrn/lrn.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
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
    case Isa::avx512:
      return lrn_kernels_avx512();
#endif
#ifdef DLCORE_HAVE_AVX2
    case Isa::avx2:
      return lrn_kernels_avx2();
#endif
    default:
      return lrn_kernels_ref();
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

// ---------------------------------------------------------------------------
// The double-precision path, for calls whose s = k + a*sum(x^2) overflows
// float32 (x around 1e19 and more, e.g. AlexNet's beta = 0.75 on unscaled
// activations): the float kernels detect it and the whole call is redone
// here, where x^2 <= 1.2e77 and its window sums cannot overflow. The
// formulas are those of lrn.h; s = +inf (an infinite x) gives pow()'s
// answers: y = x * 0 = 0 for finite x, NaN for x = +-inf (beta > 0).
// Window sums are summed directly (no running sums: a huge x leaving the
// window would leave cancellation error behind).
// ---------------------------------------------------------------------------

// out[i] = sum over the window of element i of term(j), reaching `before`
// elements back and `after` ahead (clipped), over one image (across: C x HW,
// the window over channels) or one plane (within: H x W, a box, summed as
// column sums of the clipped rows, then row sums of those).
template <class Term>
void window_sums_double(const LrnArgs& a, int64_t before, int64_t after, const Term& term, double* out) {
  const int64_t hw = a.plane();
  if (a.across) {
    for (int64_t c = 0; c < a.c; ++c) {
      const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min(a.c - 1, c + after);
      for (int64_t p = 0; p < hw; ++p) {
        double sum = 0.0;
        for (int64_t cc = lo; cc <= hi; ++cc) sum += term(cc * hw + p);
        out[c * hw + p] = sum;
      }
    }
    return;
  }
  std::vector<double> col(static_cast<size_t>(a.w));
  for (int64_t h = 0; h < a.h; ++h) {
    const int64_t h0 = std::max<int64_t>(0, h - before), h1 = std::min(a.h - 1, h + after);
    for (int64_t w = 0; w < a.w; ++w) {
      double sum = 0.0;
      for (int64_t hh = h0; hh <= h1; ++hh) sum += term(hh * a.w + w);
      col[size_t(w)] = sum;
    }
    for (int64_t w = 0; w < a.w; ++w) {
      const int64_t w0 = std::max<int64_t>(0, w - before), w1 = std::min(a.w - 1, w + after);
      double sum = 0.0;
      for (int64_t ww = w0; ww <= w1; ++ww) sum += col[size_t(ww)];
      out[h * a.w + w] = sum;
    }
  }
}

// s = k + alpha * (window sum of x^2) for every element of one unit.
void window_s_double(const LrnArgs& a, const float* x, double* s) {
  window_sums_double(a, a.front(), a.back(), [x](int64_t j) { return double(x[j]) * double(x[j]); }, s);
  const int64_t len = a.across ? a.c * a.plane() : a.plane();
  const double alpha = a.scaled_alpha(), k = a.k;
  for (int64_t i = 0; i < len; ++i) s[i] = k + alpha * s[i];
}

// Sum of t over the mirrored window of every element (reach `back` before,
// `front` after).
void mirrored_sums_double(const LrnArgs& a, const double* t, double* out) {
  window_sums_double(a, a.back(), a.front(), [t](int64_t j) { return t[j]; }, out);
}

// Units: images (across) or planes (within); the elements a unit covers.
int64_t double_unit_elems(const LrnArgs& a) { return a.across ? a.c * a.plane() : a.plane(); }
int64_t double_units(const LrnArgs& a) { return a.across ? a.n : a.n * a.c; }

void forward_double(const LrnArgs& a) {
  const int64_t len = double_unit_elems(a);
  parallel_units(double_units(a), 8 * a.n * a.c * a.plane(), [&](int64_t b, int64_t e) {
    std::vector<double> s(static_cast<size_t>(len));
    for (int64_t u = b; u < e; ++u) {
      const float* x = a.x + u * len;
      window_s_double(a, x, s.data());
      for (int64_t i = 0; i < len; ++i)
        a.y[u * len + i] = float(double(x[i]) * std::pow(s[size_t(i)], -double(a.beta)));
    }
  });
}

// dx_j = dy_j s_j^-beta - 2 a beta x_j sum_{i in W'(j)} dy_i x_i s_i^(-beta-1).
void backward_double(const LrnArgs& a) {
  const int64_t len = double_unit_elems(a);
  const double beta = a.beta, coef = -2.0 * double(a.scaled_alpha()) * beta;
  parallel_units(double_units(a), 12 * a.n * a.c * a.plane(), [&](int64_t b, int64_t e) {
    std::vector<double> s(static_cast<size_t>(len)), t(static_cast<size_t>(len)), sums(static_cast<size_t>(len));
    for (int64_t u = b; u < e; ++u) {
      const float* x = a.x + u * len;
      const float* dy = a.dy + u * len;
      window_s_double(a, x, s.data());
      for (int64_t i = 0; i < len; ++i)
        t[size_t(i)] = double(dy[i]) * double(x[i]) * std::pow(s[size_t(i)], -beta - 1.0);
      mirrored_sums_double(a, t.data(), sums.data());
      for (int64_t i = 0; i < len; ++i)
        a.dx[u * len + i] =
            float(double(dy[i]) * std::pow(s[size_t(i)], -beta) + coef * double(x[i]) * sums[size_t(i)]);
    }
  });
}

void forward(const LrnArgs& in, const LrnKernels& k) {
  LrnArgs a = in;
  if (a.n * a.c * a.plane() == 0) return;
  const int64_t bytes = 8 * a.n * a.c * a.plane();
  std::atomic<bool> overflow{false};
  if (a.across) {
    across_forward_units(&a);
    const int64_t units = a.n * ((a.c + a.cblock - 1) / a.cblock) * ((a.plane() + a.chunk - 1) / a.chunk);
    parallel_units(units, bytes, [&](int64_t b, int64_t e) {
      if (k.across_forward(a, b, e)) overflow = true;
    });
  } else {
    // Scratch sized before the parallel region (an allocation failure is a
    // MemoryError, not an abort; parallel_units also rethrows).
    const size_t floats = size_t(within_scratch(a, false));
    parallel_units(a.n * a.c, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      if (k.within_forward(a, b, e, scratch.get(floats))) overflow = true;
    });
  }
  if (overflow) forward_double(a);
}

void backward(const LrnArgs& in, const LrnKernels& k) {
  LrnArgs a = in;
  if (a.n * a.c * a.plane() == 0) return;
  const int64_t bytes = 12 * a.n * a.c * a.plane();
  std::atomic<bool> overflow{false};
  if (a.across) {
    a.chunk = across_backward_chunk(a);
    const int64_t units = a.n * ((a.plane() + a.chunk - 1) / a.chunk);
    const size_t floats = size_t(2 * a.c * a.chunk);
    parallel_units(units, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      if (k.across_backward(a, b, e, scratch.get(floats))) overflow = true;
    });
  } else {
    const size_t floats = size_t(within_scratch(a, true));
    parallel_units(a.n * a.c, bytes, [&](int64_t b, int64_t e) {
      thread_local ScratchBuffer scratch;
      if (k.within_backward(a, b, e, scratch.get(floats))) overflow = true;
    });
  }
  if (overflow) backward_double(a);
}

template <void (*Driver)(const LrnArgs&, const LrnKernels&), const LrnKernels& (*Table)()>
void run(const LrnArgs& a) {
  Driver(a, Table());
}

template <void (*Driver)(const LrnArgs&, const LrnKernels&)>
std::vector<Impl<LrnArgs>> lrn_impls(const char* avx512, const char* avx2, const char* ref) {
  // Built like every list (dispatch/registry.h): one entry per ISA, each wrapped in its macro.
  return {
      DLCORE_IF_AVX512({avx512, Isa::avx512, nullptr, &run<Driver, lrn_kernels_avx512>}, )
          DLCORE_IF_AVX2({avx2, Isa::avx2, nullptr, &run<Driver, lrn_kernels_avx2>}, ){ref, Isa::ref, nullptr,
                                                                                       &run<Driver, lrn_kernels_ref>},
  };
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
  static const Registry<LrnArgs> r("lrn_backward",
                                   lrn_impls<backward>("lrn_backward_avx512", "lrn_backward_avx2", "lrn_backward_ref"));
  return r;
}

}  // namespace dlcore
