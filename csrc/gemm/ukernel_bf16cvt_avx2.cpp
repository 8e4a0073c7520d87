// bfloat16 GEMM on AVX2/FMA: bf16 -> float32 while packing (a shift per
// lane), then the float32 6x16 micro-kernel. Halves the memory of the
// operands; the arithmetic is float32's. Compiled with -mavx2 -mfma only.
#include "gemm/blocksizes.h"
#include "gemm/pack_bf16.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernelBf16Cvt& gemm_kernel_bf16_avx2() {
  // The packed panels are float32, exactly those of gemm_avx2_6x16, so its
  // measured blocks apply (ukernel_avx2_6x16.cpp).
  static const GemmKernelBf16Cvt kernel{
      "gemm_bf16cvt_avx2_6x16", 6,       16,     144, 256, 3072, 1, &gemm_ukernel<simd::Avx2, 6, 2>, &pack_a_bf16_cvt,
      &pack_b_bf16_cvt,         nullptr, nullptr};
  return kernel;
}

}  // namespace dlcore
