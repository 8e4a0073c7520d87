// The AMX tile configuration every dlcore AMX kernel uses: palette 1, all
// eight tiles 16 rows x 64 bytes (Intel SDM vol. 1, 3.2.1: the 64-byte
// TILECFG layout). Include only from files compiled with the AMX flags
// (*_amx.cpp); the function is file-local in each, so no AMX code can leak
// into a translation unit built for another ISA.
// NOT RUN HERE (the development machine has no AMX): exercised by the AMX
// emulator of the emulation test build (csrc/core/emulate) in CI.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace dlcore {
namespace {

struct alignas(64) AmxTileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Loads the configuration on the calling thread (ldtilecfg). Kernels call it
// per call, not once per thread: another AMX kernel may have configured the
// thread's tiles differently in between.
inline void amx_configure_16x64_tiles() {
  AmxTileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace
}  // namespace dlcore
