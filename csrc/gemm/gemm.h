// Single-precision GEMM, the BLIS way: C = alpha * op(A) * op(B) + beta * C.
//
// All matrices are row-major with leading dimensions (lda/ldb/ldc in
// elements). beta == 0 means C is not read (so NaN poison in C is
// overwritten), as in BLAS. This is the internal entry that convolution and
// linear layers reuse: no Python types, no checks beyond asserts; the Python
// entry point validates (bindings/bind_gemm.cpp).
#pragma once
#include <cstdint>
#include <string>

#include "dispatch/registry.h"

namespace dlcore {

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;
  int64_t ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  // Batched, strided: `batch` independent products, operand i at base + i*stride.
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  // 0: use dlcore's thread count; 1: run on the calling thread only (for
  // callers that are already inside their own parallel loop).
  int num_threads = 0;
};

const Registry<GemmArgs>& gemm_registry();

// Selects the implementation for `backend` ("auto", "ref", "avx2", "avx512")
// and runs it. Throws BackendError when the backend cannot run here.
void gemm(const GemmArgs& args, const std::string& backend = "auto");

// Runs `isa`'s micro-kernel with other cache blocks (mc, kc, nc), for the
// tuning sweep of the benchmark report (python -m dlcore.bench gemm --tune).
// mc must be a multiple of the ISA's MR and nc of its NR.
void gemm_with_blocking(const GemmArgs& args, Isa isa, int mc, int kc, int nc);
struct GemmKernel;
const GemmKernel& gemm_kernel_for(Isa isa);

}  // namespace dlcore
