// AVX2/FMA micro-kernel: 6 x 16 tile (12 ymm accumulators + 2 B vectors + 1
// broadcast = 15 of 16 ymm registers). Compiled with -mavx2 -mfma only.
#include "gemm/blocksizes.h"
#include "gemm/pack_kernels.h"
#include "gemm/ukernel.h"

namespace dlcore {

// 3 x 3 dot products (gemm.cpp use_dot): 9 accumulators + 6 operand vectors
// of 16 ymm. 2026-12-06, this AMD EPYC, in-process alternating blocks,
// GFLOP/s one thread, tiles 3x3 / 2x5 / 4x2 / 2x4: 1x1000x2048 (B^T) 4.8 /
// 5.8 / 3.1 / 5.6, 16x1000x2048 (B^T) 23.1 / 22.6 / 20.3 / 21.6, 64x10x500
// (B^T) 21.6 / 23.2 / 21.8 / 19.0, 64x8x1024 (B^T) 27.3 / 21.8 / 25.4 /
// 25.7, 256x12x4096 (B^T) 28.2 / 20.6 / 23.0 / 24.5, 64x4x1024 17.3 / 17.8
// / 20.1 / 20.1, 256x1x4096 8.0 / 4.8 / 9.4 / 5.5: the wide tiles lose most
// where C is narrow and the tall ones where it is short, 3 x 3 at most 21%
// below the best. Where it runs, 2 threads, packed -> dots: y = x W^T with
// few rows: 1x1000x2048 5.6 -> 12.9, 8x1000x2048 24.3 -> 34.3,
// 16x1000x2048 34.0 -> 40.0 (24x1000x2048 39.3 -> 39.5: level, so at most
// 16 rows); few columns: 64x8x1024 18.1 -> 27.7, 64x16x1024 24.8 -> 29.1,
// 256x16x4096 29.6 -> 38.7, 64x32x1024 26.8 -> 30.2, 256x32x4096 32.7 ->
// 37.9; op(B) = B (B^T copied first): 64x1x1024 3.8 -> 8.3, 64x4x1024 13.6
// -> 17.6, 64x6x1024 16.8 -> 24.3, 256x8x4096 20.5 -> 24.4, 64x8x1024 13.7
// -> 17.2, but 10 columns and more lose (64x10x500 20.8 -> 19.3, 64x12x1024
// 23.6 -> 17.2, 64x16x1024 24.6 -> 13.6): at most 8. A packed right edge
// stays broadcast (not measured here as dots).
// One row of C (y = x W^T for one x) runs 1 x 8 tiles: 3 x 3 repeats the row
// 3 times. 2 threads, same runs, GFLOP/s 3x3 / 1x8 / 1x6 / 1x4 / 2x5:
// 1x1000x2048 6.9 / 11.6 / 11.7 / 10.2 / 9.3, 1x500x800 10.9 / 22.2 / 21.5
// / 20.6 / 13.5, 1x4096x9216 (memory-bound) 4.4 / 5.2 / 5.2 / 4.9 / 4.8.
// From 2 rows on the 1-row tiles read B's rows once per row and win no more
// (3x3 / 1x8 / 1x6 / 2x5: 2x1000x2048 9.1 / 7.7 / 8.4 / 9.7, 3x1000x2048
// 15.4 / 15.7 / 16.8 / 15.1).
const GemmDot kDotAvx2{&gemm_dot_tile<simd::Avx2, 3, 3>, 3, 3, 16, 32, 8, false, &gemm_dot_tile<simd::Avx2, 1, 8>, 8};

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
  // A read in place (direct_a, direct_at; gemm.cpp a_mode) where C has at
  // most 32 panels of 16 columns: there packing A is spread over too few
  // panels. 2026-12-05, this AMD EPYC (AVX2 only, 2 threads), in-process
  // alternating blocks (9 rounds), GFLOP/s packed -> in place, oneDNN in
  // the same run: 512x196x4608 57.9 -> 63.5 (63.8), 128^3 54.2 -> 58.1,
  // 256x196x2304 62.0 -> 63.7, 256x512x2304 63.6 -> 64.9, 512^3 61.1 ->
  // 62.9, 64x500x800 (B^T) 62.0 -> 63.4, 512x49x4608 (the transposed
  // product: A^T by columns) 54.3 -> 57.6, 512x49x2304 52.8 -> 55.9; 256^3,
  // 384x169x2304 and 64x324x4096 (B^T) within 1%, 100x500x800 (B^T) 0 to
  // -4%. With more panels it lost 1-3%: 128x784x1152 65.7 -> 64.1,
  // 256x1000x1536 (B^T) 56.8 -> 55.4, 256x3136x2304 (A^T) 68.1 -> 66.3.
  // Where A's rows crowd an L1 set (3 of the 6 rows lda apart: lda a
  // multiple of 1024) or C has under 4 panels, A is packed, not copied
  // (copied lost 3-4%: 1024^3, 50x1000x2048 (B^T), 256x4096x4096 (B^T)),
  // and B is never read in place (b_in_place; same runs, A in place
  // without the panel limit, B packed -> in place: 64x50176x576 63.7 ->
  // 41.1, 1024^3 67.2 -> 48.0, 512^3 66.3 -> 53.3, 256x3136x2304 67.5 ->
  // 60.8).
  static const GemmKernel kernel{"gemm_avx2_6x16",
                                 6,
                                 16,
                                 144,
                                 256,
                                 3072,
                                 &gemm_ukernel<simd::Avx2, 6, 2>,
                                 &pack_a_panel_impl,
                                 &pack_b_panel_impl,
                                 EdgeRows<simd::Avx2, 6, 2, 1, 2, 3, 4, 5>::table,
                                 nullptr,
                                 &kDotAvx2,
                                 &DirectA<simd::Avx2, 6, 2, ASource::rows, 1, 2, 3, 4, 5>::kernels,
                                 &DirectA<simd::Avx2, 6, 2, ASource::columns, 1, 2, 3, 4, 5>::kernels,
                                 0,   // kc_copied: A is never copied
                                 32,  // direct_max_panels
                                 false,
                                 false};
  return kernel;
}

}  // namespace dlcore
