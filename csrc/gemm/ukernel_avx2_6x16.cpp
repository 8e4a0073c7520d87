// AVX2/FMA micro-kernel: 6 x 16 tile (12 ymm accumulators + 2 B vectors + 1
// broadcast = 15 of 16 ymm registers). Compiled with -mavx2 -mfma only.
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernel& gemm_kernel_avx2() {
  // Block sizes for a core with 32 KiB L1d and 512 KiB L2 (this machine: AMD
  // EPYC, Zen 3 class), chosen by `python -m dlcore.bench gemm --tune`:
  //   KC = 256: one packed B micro-panel is 256*16*4 = 16 KiB, half of L1d.
  //   MC = 144: one packed A block is 144*256*4 = 144 KiB, under half of L2.
  //   NC = 3072: one packed B block is 3 MiB, shared by the threads in L3.
  static const GemmKernel kernel{"gemm_avx2_6x16", 6, 16, 144, 256, 3072,
                                 &gemm_ukernel<simd::Avx2, 6, 2>,
                                 &pack_a_panel_impl, &pack_b_panel_impl};
  return kernel;
}

}  // namespace dlcore
