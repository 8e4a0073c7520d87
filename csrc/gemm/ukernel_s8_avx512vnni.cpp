// AVX512-VNNI int8 micro-kernel: vpdpbusd (u8 x s8 quads -> int32, exact, no
// intermediate saturation) on zmm, 8 x 32 tile (16 accumulators + 2 B +
// broadcast of 32 zmm). NOT RUN HERE: the development machine (AMD Zen 3) has
// no AVX-512; compiled with -mavx512vnni and tested where the CPU has it.
#include <immintrin.h>

#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"

namespace dlcore {
namespace {

struct Avx512VnniOps {
  using reg = __m512i;
  static constexpr int lanes = 16;
  static reg zero() { return _mm512_setzero_si512(); }
  static reg load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static reg bcast(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  static reg dot(reg acc, reg a_u8, reg b_s8) { return _mm512_dpbusd_epi32(acc, a_u8, b_s8); }
  static reg loadc(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void storec(int32_t* p, reg v) { _mm512_storeu_si512(p, v); }
  static reg add(reg x, reg y) { return _mm512_add_epi32(x, y); }
};

}  // namespace

// Block sizes by the L1/L2 rule of the AVX2 row (not tuned: no VNNI CPU here):
// B micro-panel 32 x 512 = 16 KiB, A block 96 x 512 = 48 KiB.
const GemmS8Kernel& gemm_s8_kernel_avx512vnni() {
  static const GemmS8Kernel kernel{"gemm_u8s8s32_avx512vnni_8x32",
                                   8,
                                   32,
                                   96,
                                   512,
                                   4096,
                                   1,
                                   4,
                                   &ukernel_s8<Avx512VnniOps, 8, 2>,
                                   &pack_a_s8<false>,
                                   &pack_b_s8<false>};
  return kernel;
}

}  // namespace dlcore
