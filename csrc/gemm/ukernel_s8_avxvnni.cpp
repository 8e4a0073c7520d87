// AVX-VNNI int8 micro-kernel: the VEX-encoded vpdpbusd on ymm (Alder Lake and
// later), 6 x 16 tile. NOT RUN HERE: the development machine (AMD Zen 3) has
// no AVX-VNNI; compiled with -mavxvnni and tested where the CPU has it.
#include <immintrin.h>

#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"
#include "gemm/ukernel_s8_ymm.h"

namespace dlcore {
namespace {

struct AvxVnniOps : YmmS8Ops {
  static reg dot(reg acc, reg a_u8, reg b_s8) { return _mm256_dpbusd_avx_epi32(acc, a_u8, b_s8); }
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
