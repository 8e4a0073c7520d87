// AMX-INT8 micro-kernel: tdpbusd on tiles, a 32 x 32 int32 tile of C as four
// 16 x 16 accumulator tiles (tmm0-3), two A tiles (tmm4-5: 16 rows x 64 k
// bytes) and two B tiles (tmm6-7: 16 k-quads x 16 columns x 4 bytes, the
// "VNNI layout", which is exactly the quad-packed B panel of gemm_s8.h with
// NR = 32 read at a 128-byte row stride). Panels hold k rounded up to 64.
// A is packed row-major per 64-k chunk: [chunk][32 rows][64 bytes].
//
// NOT RUN HERE: the development machine (AMD Zen 3) has no AMX; compiled with
// -mamx-int8 and tested where the CPU has it (cpu.cpp also asks Linux for the
// tile-data permission, ARCH_REQ_XCOMP_PERM, before reporting AMX usable).
// The tile configuration is loaded on every call: another kernel (the bf16
// AMX GEMM) may have configured the thread's tiles differently in between;
// KC = 4096 keeps that ldtilecfg to a small share of each call.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/amx_tiles.h"
#include "gemm/gemm_s8.h"
#include "gemm/ukernel_s8.h"

namespace dlcore {
namespace {

void ukernel_amx_32x32(int64_t steps, const void* a_, const void* b_, int32_t* c, int64_t ldc, bool accumulate) {
  const uint8_t* a = static_cast<const uint8_t*>(a_);
  const uint8_t* b = static_cast<const uint8_t*>(b_);
  const int64_t chunks = steps / 16;  // 64 k per chunk
  const int64_t cs = ldc * int64_t(sizeof(int32_t));
  amx_configure_16x64_tiles();
  if (accumulate) {
    _tile_loadd(0, c, cs);
    _tile_loadd(1, c + 16, cs);
    _tile_loadd(2, c + 16 * ldc, cs);
    _tile_loadd(3, c + 16 * ldc + 16, cs);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t q = 0; q < chunks; ++q) {
    const uint8_t* ac = a + q * 32 * 64;
    const uint8_t* bc = b + q * 16 * 128;
    _tile_loadd(4, ac, 64);
    _tile_loadd(5, ac + 16 * 64, 64);
    _tile_loadd(6, bc, 128);
    _tile_loadd(7, bc + 64, 128);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, c, cs);
  _tile_stored(1, c + 16, cs);
  _tile_stored(2, c + 16 * ldc, cs);
  _tile_stored(3, c + 16 * ldc + 16, cs);
}

// [chunk][mr rows][64 bytes], zero rows past `rows` and zero k past the block.
void pack_a_amx(const uint8_t* a, int64_t lda, int64_t row0, int rows, int64_t k0, int64_t kc, int64_t k, int mr,
                void* dst_) {
  uint8_t* dst = static_cast<uint8_t*>(dst_);
  const int64_t chunks = (kc + 63) / 64;
  const int64_t kend = k0 + kc < k ? k0 + kc : k;
  for (int64_t q = 0; q < chunks; ++q)
    for (int i = 0; i < mr; ++i) {
      uint8_t* d = dst + (q * mr + i) * 64;
      const int64_t from = k0 + q * 64;
      const int64_t n = i < rows ? std::max<int64_t>(0, std::min<int64_t>(64, kend - from)) : 0;
      if (n) std::memcpy(d, a + (row0 + i) * lda + from, size_t(n));
      std::memset(d + n, 0, size_t(64 - n));
    }
}

// The quad layout of pack_b_s8, then zero quads up to the 64-k boundary.
void pack_b_amx(const int8_t* b, int64_t ldb, int64_t col0, int cols, int64_t k0, int64_t kc, int64_t k, int nr,
                void* dst) {
  pack_b_s8<false>(b, ldb, col0, cols, k0, kc, k, nr, dst);
  const int64_t quads = (kc + 3) / 4, padded = (kc + 63) / 64 * 16;
  std::memset(static_cast<uint8_t*>(dst) + quads * nr * 4, 0, size_t((padded - quads) * nr * 4));
}

}  // namespace

// Block sizes (untuned, no AMX CPU here; Sapphire Rapids: 48 KiB L1d, 2 MiB
// L2): KC = 4096 makes each B micro-panel 128 KiB and the A block 64 x 4096
// = 256 KiB, both in L2, which is where tileloadd streams them from.
const GemmS8Kernel& gemm_s8_kernel_amx() {
  static const GemmS8Kernel kernel{"gemm_u8s8s32_amx_32x32", 32,          32,         64, 4096, 4096, 1, 64,
                                   &ukernel_amx_32x32,       &pack_a_amx, &pack_b_amx};
  return kernel;
}

}  // namespace dlcore
