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

using GemmUKernel = void (*)(int64_t k, const float* a, const float* b, float* c, int64_t ldc,
                             float alpha, float beta);

struct GemmKernel {
  const char* name;
  int mr, nr;      // register tile
  int mc, kc, nc;  // cache blocks: A block mc x kc (L2), B panel kc x nr (L1), B block kc x nc (L3)
  GemmUKernel ukernel;
};

// Each defined in its own translation unit, compiled with its own ISA flags.
const GemmKernel& gemm_kernel_ref();
const GemmKernel& gemm_kernel_avx2();
const GemmKernel& gemm_kernel_avx512();

}  // namespace dlcore
