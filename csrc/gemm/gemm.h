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
  // sum_batch: one C = alpha * sum_i op(A_i) op(B_i) + beta * C (stride_c
  // unused), the products added in order: the same result as `batch` calls
  // with beta 1 after the first, in one parallel loop (one join).
  bool sum_batch = false;
  // 0: use dlcore's thread count; 1: run on the calling thread only (for
  // callers that are already inside their own parallel loop).
  int num_threads = 0;
  // The bfloat16 column (bits as uint16_t, Python's ml_dtypes.bfloat16): set
  // a16/b16 instead of a/b. C is float32 (`c`), or bfloat16 when `c16` is set
  // instead: then float32 results (alpha/beta applied, beta reading the bf16
  // C) are rounded once to bf16. Float32 implementations decline these
  // arguments and bf16 ones decline float32 arguments, with the reason.
  const uint16_t* a16 = nullptr;
  const uint16_t* b16 = nullptr;
  uint16_t* c16 = nullptr;
  bool is_bf16() const { return a16 != nullptr || b16 != nullptr; }
  // Fused epilogue (issue 17), applied to each finished tile of C by the
  // thread that computed it, right after its last k block while the tile is
  // in L1: C = act(alpha op(A) op(B) + beta C + bias). bias_row (m,) adds
  // bias_row[i] to row i (a 1x1 convolution: per output channel), bias_col
  // (n,) adds bias_col[j] to column j (a linear layer). The same vectors serve
  // every product of a batch. With sum_batch, after the last product only.
  const float* bias_row = nullptr;
  const float* bias_col = nullptr;
  bool relu = false;
  bool has_epilogue() const { return bias_row != nullptr || bias_col != nullptr || relu; }
};

const Registry<GemmArgs>& gemm_registry();

// Selects the implementation for `backend` ("auto", "ref", "avx2", "avx512")
// and runs it. Throws BackendError when the backend cannot run here.
void gemm(const GemmArgs& args, const std::string& backend = "auto");

// Runs `isa`'s micro-kernel with other cache blocks (mc, kc, nc), for the
// tuning sweep of the benchmark report (python -m dlcore.bench gemm --tune).
// mc must be a multiple of the ISA's MR and nc of its NR.
void gemm_with_blocking(const GemmArgs& args, Isa isa, int mc, int kc, int nc);
// Runs the first implementation of `isa` that accepts `args` (its dtype
// column), without recording the dispatch: for ops built on GEMM that have
// already chosen their ISA (the bf16 convolution). Throws BackendError if none.
void gemm_run_isa(const GemmArgs& args, Isa isa);
struct GemmKernel;
const GemmKernel& gemm_kernel_for(Isa isa);

}  // namespace dlcore
