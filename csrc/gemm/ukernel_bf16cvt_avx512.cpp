// bfloat16 GEMM on AVX-512 without BF16 instructions (Skylake-SP, Ice Lake):
// bf16 -> float32 while packing, then the float32 12x32 micro-kernel.
// Not run here (this machine has no AVX-512).
#include "gemm/blocksizes.h"
#include "gemm/pack_bf16.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernelBf16Cvt& gemm_kernel_bf16_avx512() {
  // float32 panels: the blocks of gemm_avx512_12x32 (ukernel_avx512_12x32.cpp).
  static const GemmKernelBf16Cvt kernel{"gemm_bf16cvt_avx512_12x32",
                                        12,
                                        32,
                                        240,
                                        192,
                                        3072,
                                        1,
                                        &gemm_ukernel<simd::Avx512, 12, 2>,
                                        &pack_a_bf16_cvt,
                                        &pack_b_bf16_cvt,
                                        nullptr,
                                        nullptr};
  return kernel;
}

}  // namespace dlcore
