// AVX-512 micro-kernel: 12 x 32 tile (24 zmm accumulators + 2 B vectors + 1
// broadcast of 32 zmm registers). Compiled with the AVX-512 flags only.
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

// 4 x 4 dot products: 16 accumulators + 8 operand vectors of 32 zmm. y = x
// W^T with at most 16 rows or 32 columns (measured: gemm.cpp use_dot); op(B)
// = B with a few columns stays packed (0: the AVX2 machine that measured it
// for AVX2 has no AVX-512, so not measured here); right edges as dots
// (gemm.cpp dot_edge_cols).
const GemmDot kDotAvx512{&gemm_dot_tile<simd::Avx512, 4, 4>, 4, 4, 16, 32, 0, true};

const GemmKernel& gemm_kernel_avx512() {
  // Block sizes measured on AMD EPYC Zen 4 (32 KiB L1d, 1 MiB L2; 512-bit
  // FMAs on 256-bit units), 2026-12-04, dlcore vs oneDNN in one run, 1 and 2
  // threads, medians of 5 blocks (bench gemm shapes): MC x KC 240 x 192 (the
  // old BLIS skx guess) -> 144 x 512: square 2048 89.5 -> 100.3 GFLOP/s on
  // one core (oneDNN 98.5), 175 -> 194 on two (oneDNN 204); 256x4096x4096
  // (B^T) 85 -> 92; 64x3136x576 75 -> 81. KC 384 / 768 and MC 96 / 240 within
  // 3% of it; NC 1536 3-7% slower. The micro-kernel itself runs at the
  // core's FMA peak with warm panels (116 GFLOP/s for 12x32, 14x32, 6x64,
  // 8x48 and 10x32 alike), so what the blocks buy is fewer passes over C:
  //   KC = 512: a packed B micro-panel is 64 KiB and streams from L2 (at 128
  //             bytes per 24 FMAs that costs nothing); C is read and written
  //             once per 512 k steps instead of 192.
  //   MC = 144: a packed A block is 144*512*4 = 288 KiB, under half of L2.
  //   NC = 3072: a packed B block is 6 MiB, within the shared L3.
  // Bottom-edge tiles of 1..11 rows run their own kernels (M = 64 is 5 full
  // tiles and a 4-row one), and right-edge tiles of 1..31 columns theirs
  // (masked stores: 16 columns of work for N = 196's last 4, not 32).
  // kc_copied = 2048: where A's rows are copied (lda a multiple of 1024
  // floats, gemm.cpp a_mode) the k block is 4x KC, so C is read and written
  // a quarter as often. First 1024: 2 threads, 2026-12-05, in-process
  // alternating blocks, GFLOP/s KC 512 -> 1024: 1024^3 202 -> 209 and 205 -> 208, 2048^3
  // 200 -> 210, 4096^3 201 -> 206, 256x4096x4096 (B^T) 206 -> 212,
  // 256x1000x4096 (B^T) 186 -> 190 and 187 -> 192, 64x4096x4096 (B^T)
  // 174 -> 181; 1536 no better. Not where A is read in place: 64x4096x25088
  // (B^T) 181 -> 177 and 172 -> 168, 512x196x4608 195 -> 194, 150 -> 147.
  // kc_copied 1024 -> 2048 (session 22, the same Zen 4 kind, in-process
  // alternating blocks, medians of 5-11 rounds, GFLOP/s): one thread
  // 256x1000x4096 (B^T) 95 -> 99, 256x4096x4096 (B^T) 100 -> 104,
  // 256x4096x9216 (B^T) 102 -> 104, 2048^3 104 -> 106, 64x4096x4096 (B^T)
  // 94 -> 95 (oneDNN 103, 107, 107, 105, 90); two threads 256x1000x4096
  // 190 -> 191, 256x4096x4096 196 -> 199, 2048^3 202 -> 207, 4096^3
  // 195 -> 198. 4096 (one block for k = 4096) measured within 1% of 2048.
  // The copied block (up to 288 rows x 2048) no longer fits L2, but its rows
  // are read by broadcasts, one line every 16 k steps a row, which the L3
  // serves; what the longer block saves is half the passes over C and the
  // k-block restarts of every micro-tile.
  static const GemmKernel kernel{
      "gemm_avx512_12x32",
      12,
      32,
      144,
      512,
      3072,
      &gemm_ukernel<simd::Avx512, 12, 2>,
      &pack_a_panel_impl,
      &pack_b_panel_impl,
      EdgeRows<simd::Avx512, 12, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>::table,
      &gemm_ukernel_right<simd::Avx512, 12, 2>,
      &kDotAvx512,
      &DirectA<simd::Avx512, 12, 2, ASource::rows, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>::kernels,
      &DirectA<simd::Avx512, 12, 2, ASource::columns, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>::kernels,
      2048};
  return kernel;
}

}  // namespace dlcore
