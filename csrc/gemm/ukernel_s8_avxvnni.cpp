// AVX-VNNI int8 micro-kernel: the VEX-encoded vpdpbusd on ymm (Alder Lake and
// later), 6 x 16 tile. NOT RUN HERE: the development machine (AMD Zen 3) has
// no AVX-VNNI; compiled with -mavxvnni and tested where the CPU has it.
#include <immintrin.h>

#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"

namespace dlcore {
namespace {

struct AvxVnniOps {
  using reg = __m256i;
  static constexpr int lanes = 8;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static reg bcast(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static reg dot(reg acc, reg a_u8, reg b_s8) { return _mm256_dpbusd_avx_epi32(acc, a_u8, b_s8); }
  static reg loadc(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storec(int32_t* p, reg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static reg add(reg x, reg y) { return _mm256_add_epi32(x, y); }
};

}  // namespace

const GemmS8Kernel& gemm_s8_kernel_avxvnni() {
  static const GemmS8Kernel kernel{"gemm_u8s8s32_avxvnni_6x16",
                                   6,
                                   16,
                                   96,
                                   1024,
                                   4096,
                                   1,
                                   4,
                                   &ukernel_s8<AvxVnniOps, 6, 2>,
                                   &pack_a_s8<false>,
                                   &pack_b_s8<false>};
  return kernel;
}

}  // namespace dlcore
