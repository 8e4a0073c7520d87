// AVX2/FMA micro-kernel: 6 x 16 tile (12 ymm accumulators + 2 B vectors + 1
// broadcast = 15 of 16 ymm registers). Compiled with -mavx2 -mfma only.
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

const GemmKernel& gemm_kernel_avx2() {
  // Block sizes for a core with 32 KiB L1d and 512 KiB L2 (this machine: AMD
  // EPYC, Zen class). `python -m dlcore.bench gemm --tune` (n=1024, one
  // thread, thread CPU time) measured on 2026-11-22: KC 256..384 within 2% of
  // each other (39-40 GFLOP/s of a 46.8 GFLOP/s one-core peak), KC 128..192
  // 3-8% slower; MC 72..240 flat within noise.
  //   KC = 256: a packed B micro-panel is 256*16*4 = 16 KiB, half of L1d, so
  //             it stays there beside the 6 KiB A micro-panel.
  //   MC = 144: a packed A block is 144*256*4 = 144 KiB, under half of L2.
  //   NC = 3072: a packed B block is 3 MiB, within the shared L3.
  // Bottom-edge tiles of 1..5 rows run their own kernels (issue 17): at
  // n = 128 the 2-row edge was a full 6-row tile plus a copy, 1 call in 22.
  static const GemmKernel kernel{"gemm_avx2_6x16",
                                 6,
                                 16,
                                 144,
                                 256,
                                 3072,
                                 &gemm_ukernel<simd::Avx2, 6, 2>,
                                 &pack_a_panel_impl,
                                 &pack_b_panel_impl,
                                 EdgeRows<simd::Avx2, 6, 2, 1, 2, 3, 4, 5>::table};
  return kernel;
}

}  // namespace dlcore
