// The micro-kernel contract and the cache-blocking parameters of each ISA.
//
// A micro-kernel computes one MR x NR tile of C from packed panels:
//   C[0:MR, 0:NR] = alpha * Apanel * Bpanel + beta * C      (beta == 0: C not read)
// Apanel is k columns of MR floats (element (i, p) at a[p*MR + i]);
// Bpanel is k rows of NR floats (element (p, j) at b[p*NR + j]).
// C is row-major with row stride ldc. Panels are zero-padded at the edges,
// so a micro-kernel always computes a full tile; the loops in gemm.cpp route
// partial tiles through a small buffer.
#pragma once
#include <cstdint>

namespace dlcore {

// Packing may write up to this many floats past a panel's end (zeros, see
// pack_kernels.h); every packing buffer is allocated with this slack.
constexpr int kPackSlack = 16;

using GemmUKernel = void (*)(int64_t k, const float* a, const float* b, float* c, int64_t ldc,
                             float alpha, float beta);

// Packs rows [row0, row0+rows) x cols [col0, col0+kc) of op(A) into one
// mr-row micro-panel, or rows [row0, row0+kc) x cols [col0, col0+cols) of
// op(B) into one nr-column micro-panel; the rest of the panel is zeroed.
using GemmPackA = void (*)(const float* a, int64_t lda, bool trans_a, int64_t row0, int rows,
                           int64_t col0, int64_t kc, int mr, float* dst);
using GemmPackB = void (*)(const float* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc,
                           int64_t col0, int cols, int nr, float* dst);

struct GemmKernel {
  const char* name;
  int mr, nr;      // register tile
  int mc, kc, nc;  // cache blocks: A block mc x kc (L2), B panel kc x nr (L1), B block kc x nc (L3)
  GemmUKernel ukernel;
  GemmPackA pack_a;  // packing compiled for the same ISA as the micro-kernel
  GemmPackB pack_b;
};

// Each defined in its own translation unit, compiled with its own ISA flags.
const GemmKernel& gemm_kernel_ref();
const GemmKernel& gemm_kernel_avx2();
const GemmKernel& gemm_kernel_avx512();

}  // namespace dlcore
