// bfloat16 GEMM on AMX (Sapphire Rapids and later): a 32 x 32 block of C in
// four 16 x 16 float32 accumulator tiles (tmm0-3), two A tiles of 16 rows x
// 32 k (tmm4-5) and two B tiles of 16 K-pairs x 16 columns (tmm6-7); each
// tdpbf16ps is 16*16*32 multiply-adds. The BLIS loops of gemm.cpp stay: the
// packers lay out whole tiles (pack_bf16.h), each thread loads the tile
// configuration once around its share of a call and releases it after.
// Linux grants the tile state per process (arch_prctl ARCH_REQ_XCOMP_PERM),
// asked once by the CPU detection (core/cpu.cpp); refused, Isa::amx is
// unsupported with the reason and this kernel is never selected.
// Compiled with the AMX flags only. NOT RUN HERE: the development machine
// (AMD Zen, AVX2) has no AMX; its tests skip with that reason.
#include <immintrin.h>

#include "core/amx_tiles.h"
#include "gemm/blocksizes.h"
#include "gemm/pack_bf16.h"

namespace dlcore {
namespace {

// All eight tiles are 16 rows x 64 bytes: C (16 x 16 float32), A (16 x 32
// bf16) and B (16 K-pairs x 16 columns of bf16 pairs).
void amx_begin() { amx_configure_16x64_tiles(); }

void amx_end() { _tile_release(); }

// k: the padded panel length, a multiple of 32. A panel: per 32-k block, 32
// rows of 32 bf16 (pack_a_bf16_amx); B panel: per 32-k block, 16 K-pair rows
// of 32 columns (pack_b_bf16_pairs<32>), so a B tile row is 128 bytes apart.
void ukernel_amx_32x32(int64_t k, const uint16_t* a, const uint16_t* b, float* c, int64_t ldc, float alpha,
                       float beta) {
  constexpr int MR = 32, NR = 32;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t kb = 0; kb < k / 32; ++kb) {
    const uint16_t* ak = a + kb * MR * 32;
    const uint16_t* bk = b + kb * 32 * NR;
    _tile_loadd(4, ak, 64);
    _tile_loadd(5, ak + 16 * 32, 64);
    _tile_loadd(6, bk, NR * 4);
    _tile_loadd(7, bk + 32, NR * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float t[MR * NR];
  _tile_stored(0, t, NR * 4);
  _tile_stored(1, t + 16, NR * 4);
  _tile_stored(2, t + 16 * NR, NR * 4);
  _tile_stored(3, t + 16 * NR + 16, NR * 4);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; j += 16) {
      float* cp = c + i * ldc + j;
      __m512 r = _mm512_mul_ps(va, _mm512_load_ps(t + i * NR + j));
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r);
      _mm512_storeu_ps(cp, r);
    }
}

}  // namespace

const GemmKernelBf16& gemm_kernel_bf16_amx() {
  // Not measured (no AMX here); sized for Sapphire Rapids (48 KiB L1d, 2 MiB
  // L2): KC = 512 makes a packed B micro-panel 512*32*2 B = 32 KiB (L1) and
  // gives 16 tile steps per C store; MC = 128: an A block of 128 KiB; NC =
  // 1024: a B block of 1 MiB, in L2.
  static const GemmKernelBf16 kernel{
      "gemm_bf16_amx_32x32",  32,         32,      128, 512, 1024, 32, &ukernel_amx_32x32, &pack_a_bf16_amx,
      &pack_b_bf16_pairs<32>, &amx_begin, &amx_end};
  return kernel;
}

}  // namespace dlcore
