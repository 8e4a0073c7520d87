// AVX-512 micro-kernel: 12 x 32 tile (24 zmm accumulators + 2 B vectors + 1
// broadcast of 32 zmm registers). Compiled with the AVX-512 flags only.
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernel& gemm_kernel_avx512() {
  // Block sizes for Skylake-SP class cores (32 KiB L1d, 1 MiB L2): a packed B
  // micro-panel is 256*32*4 = 32 KiB... too big for L1 alongside A, so KC is
  // 192 (24 KiB); A block 240*192*4 = 180 KiB in L2. Not measured here: this
  // machine has no AVX-512, so these follow BLIS's skx table, scaled.
  static const GemmKernel kernel{
      "gemm_avx512_12x32", 12, 32, 240, 192, 3072, &gemm_ukernel<simd::Avx512, 12, 2>, &pack_a_panel_impl,
      &pack_b_panel_impl};
  return kernel;
}

}  // namespace dlcore
