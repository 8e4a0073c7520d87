// AMX peak probe: four independent tdpbf16ps accumulators (tmm0-3) fed by
// A/B tiles loaded once. NOT RUN HERE: the development machine has no AMX.
#include <immintrin.h>

#include "core/amx_tiles.h"
#include "core/peak_bf16.h"

namespace dlcore {

double bf16_chain_amx(int64_t iterations) {
  amx_configure_16x64_tiles();
  alignas(64) uint16_t src[16 * 32];
  for (int i = 0; i < 16 * 32; ++i) src[i] = 0x3c00;  // bf16 0.0078125
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, src, 64);
  _tile_loadd(5, src, 64);
  _tile_loadd(6, src, 64);
  _tile_loadd(7, src, 64);
  for (int64_t it = 0; it < iterations; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  volatile float sink = out[0];
  (void)sink;
  return 4.0 * 16 * 16 * 32 * 2 * double(iterations);
}

}  // namespace dlcore
