// bfloat16 GEMM, portable reference: converts bf16 -> float32 while packing,
// then the scalar 4x8 float32 micro-kernel (baseline flags).
#include "gemm/blocksizes.h"
#include "gemm/pack_bf16.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernelBf16Cvt& gemm_kernel_bf16_ref() {
  // The packed panels are float32, so the float32 reference's blocks apply.
  static const GemmKernelBf16Cvt kernel{
      "gemm_bf16cvt_ref_4x8", 4,       8,      128, 256, 2048, 1, &gemm_ukernel<simd::Scalar, 4, 8>, &pack_a_bf16_cvt,
      &pack_b_bf16_cvt,       nullptr, nullptr};
  return kernel;
}

}  // namespace dlcore
