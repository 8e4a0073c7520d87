// Portable int8 micro-kernel (baseline x86-64 / any CPU): 4 x 8 tile of
// scalar int32 accumulators over u8 x s8 quads.
#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"

namespace dlcore {
namespace {

struct RefOps {
  // One int32 "lane" per register: a scalar accumulator.
  using reg = int32_t;
  static constexpr int lanes = 1;
  static reg zero() { return 0; }
  static reg load(const uint8_t* p) {
    return reg(p[0]) | reg(p[1]) << 8 | reg(p[2]) << 16 | int32_t(uint32_t(p[3]) << 24);
  }
  static reg bcast(const uint8_t* p) { return load(p); }
  static reg dot(reg acc, reg a, reg b) {
    for (int q = 0; q < 4; ++q)
      acc += int32_t(uint8_t(uint32_t(a) >> (8 * q))) * int32_t(int8_t(uint8_t(uint32_t(b) >> (8 * q))));
    return acc;
  }
  static reg loadc(const int32_t* p) { return *p; }
  static void storec(int32_t* p, reg v) { *p = v; }
  static reg add(reg x, reg y) { return x + y; }
};

}  // namespace

const GemmS8Kernel& gemm_s8_kernel_ref() {
  static const GemmS8Kernel kernel{
      "gemm_u8s8s32_ref_4x8", 4, 8, 64, 1024, 4096, 1, 4, &ukernel_s8<RefOps, 4, 8>, &pack_a_s8<false>,
      &pack_b_s8<false>};
  return kernel;
}

}  // namespace dlcore
