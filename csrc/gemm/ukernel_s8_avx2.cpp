// AVX2 int8 micro-kernels (compiled with -mavx2 only). AVX2 has no u8 x s8 ->
// s32 dot product; its building block, vpmaddubsw, adds two u8 x s8 products
// into a *saturating* int16: 255 * -128 * 2 = -65280 does not fit. Two exact
// ways, both registered (gemm/gemm_s8.cpp):
//
//  * maddubs (vpmaddubsw + vpmaddwd by ones + vpaddd, 32 MACs / 3 uops): exact
//    when every weight lies in [-64, 63] (|pair| <= 2 * 255 * 64 = 32640).
//    This is oneDNN's choice on pre-VNNI CPUs, where it quantizes weights to
//    7 bits; dlcore.quantization does the same by default (reduce_range) and
//    the registry checks the weights and declines otherwise, so the result
//    is never a silently saturated one.
//  * madd16 (operands widened to int16 while packing, vpmaddwd + vpaddd,
//    32 MACs / 4 uops): exact for every int8 weight, at twice the packed bytes.
#include <immintrin.h>

#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"
#include "gemm/ukernel_s8_ymm.h"

namespace dlcore {
namespace {

struct Avx2Maddubs : YmmS8Ops {
  static reg dot(reg acc, reg a_u8, reg b_s8) {
    const reg pairs = _mm256_maddubs_epi16(a_u8, b_s8);                // 16 x int16 (saturating; see above)
    const reg quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));  // 8 x int32, exact
    return _mm256_add_epi32(acc, quads);
  }
};

struct Avx2Madd16 : YmmS8Ops {
  static reg dot(reg acc, reg a_s16, reg b_s16) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a_s16, b_s16)); }
};

}  // namespace

// Block sizes (32 KiB L1d, 512 KiB L2 per core, Zen 3): KC = 1024 k keeps a
// 16-column B micro-panel at 16 KiB (L1); MC = 96 keeps the A block at 96 KiB
// (L2). madd16's panels are twice as large per k, so its KC is 512.
// 4 x 16 for maddubs: 8 accumulators + 2 B + broadcast + the ones constant +
// 2 temporaries fit the 16 ymm; madd16 needs no temporaries: 6 x 16.
const GemmS8Kernel& gemm_s8_kernel_avx2_maddubs() {
  static const GemmS8Kernel kernel{"gemm_u8s8s32_avx2_maddubs_4x16",
                                   4,
                                   16,
                                   96,
                                   1024,
                                   4096,
                                   1,
                                   4,
                                   &ukernel_s8<Avx2Maddubs, 4, 2>,
                                   &pack_a_s8<false>,
                                   &pack_b_s8<false>};
  return kernel;
}

const GemmS8Kernel& gemm_s8_kernel_avx2_madd16() {
  static const GemmS8Kernel kernel{"gemm_u8s8s32_avx2_madd16_6x16",
                                   6,
                                   16,
                                   96,
                                   512,
                                   4096,
                                   2,
                                   4,
                                   &ukernel_s8<Avx2Madd16, 6, 2>,
                                   &pack_a_s8<true>,
                                   &pack_b_s8<true>};
  return kernel;
}

}  // namespace dlcore
