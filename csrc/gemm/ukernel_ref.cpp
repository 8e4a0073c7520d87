// Portable reference micro-kernel (baseline flags; also the aarch64 path).
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernel& gemm_kernel_ref() {
  // Scalar 4x8 tile: 32 accumulators the compiler can keep in SSE registers.
  static const GemmKernel kernel{
      "gemm_ref_4x8", 4, 8, 128, 256, 2048, &gemm_ukernel<simd::Scalar, 4, 8>, &pack_a_panel_impl, &pack_b_panel_impl};
  return kernel;
}

}  // namespace dlcore
