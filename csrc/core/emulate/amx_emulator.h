// AMX emulator for the ISA emulation test build (isa_emulation.h includes it):
// the tile state of one thread (64-byte configuration, 8 tiles of up to 16
// rows x 64 bytes) and the instructions our kernels use, following the
// pseudo-code of Intel's ISA Extensions Reference (ch. 3, AMX): LDTILECFG,
// STTILECFG, TILERELEASE, TILEZERO, TILELOADD/TILELOADDT1, TILESTORED,
// TDPBF16PS, TDPBUSD/TDPBSSD/TDPBSUD/TDPBUUD. Where the hardware faults (#GP on
// a bad configuration, #UD on a tile used unconfigured or with shapes that do
// not chain), the emulator prints which rule broke and aborts, as the real
// SIGILL/SIGSEGV would end the process: a kernel bug must not pass silently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dlcore_emu {

struct AmxState {
  bool configured = false;  // TILES_CONFIGURED
  uint8_t palette = 0;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  alignas(64) uint8_t tile[8][16][64] = {};
};

inline AmxState& amx_state() {
  static thread_local AmxState s;
  return s;
}

[[noreturn]] inline void amx_fault(const char* kind, const char* insn, const char* why, int t = -1) {
  std::fprintf(stderr, "dlcore AMX emulator: %s in %s%s%d: %s\n", kind, insn, t >= 0 ? " tmm" : "", t >= 0 ? t : 0,
               why);
  std::abort();
}

inline void amx_need_tile(const char* insn, int t) {
  AmxState& s = amx_state();
  if (!s.configured) amx_fault("#UD", insn, "tiles not configured (no LDTILECFG, or after TILERELEASE)", t);
  if (t < 0 || t >= 8) amx_fault("#UD", insn, "tile number out of range", t);
  if (s.rows[t] == 0 || s.colsb[t] == 0) amx_fault("#UD", insn, "tile not configured (rows or colsb 0)", t);
}

// LDTILECFG m512: palette 0 = init (release); palette 1 = 8 tiles, each
// rows <= 16 and colsb <= 64, both 0 or both not; reserved bytes and tiles
// 8-15 must be 0, else #GP.
inline void amx_loadconfig(const void* cfg) {
  uint8_t b[64];
  std::memcpy(b, cfg, 64);
  AmxState& s = amx_state();
  const uint8_t palette = b[0];
  if (palette == 0) {
    s = AmxState{};
    return;
  }
  if (palette != 1) amx_fault("#GP", "LDTILECFG", "palette_id is neither 0 nor 1");
  if (b[1] != 0) amx_fault("#GP", "LDTILECFG", "start_row must be 0 for a fresh configuration");
  for (int i = 2; i < 16; ++i)
    if (b[i]) amx_fault("#GP", "LDTILECFG", "reserved bytes 2-15 not zero");
  for (int t = 0; t < 16; ++t) {
    uint16_t colsb;
    std::memcpy(&colsb, b + 16 + 2 * t, 2);
    const uint8_t rows = b[48 + t];
    if (t >= 8) {
      if (colsb || rows) amx_fault("#GP", "LDTILECFG", "tiles 8-15 must be 0 in palette 1", t);
      continue;
    }
    if (colsb > 64 || rows > 16) amx_fault("#GP", "LDTILECFG", "colsb > 64 or rows > 16", t);
    if ((colsb == 0) != (rows == 0)) amx_fault("#GP", "LDTILECFG", "rows and colsb must both be 0 or both not", t);
    s.rows[t] = rows;
    s.colsb[t] = colsb;
  }
  s.palette = 1;
  s.configured = true;
  std::memset(s.tile, 0, sizeof s.tile);  // LDTILECFG zeroes the tile data
}

inline void amx_storeconfig(void* cfg) {
  uint8_t b[64] = {};
  const AmxState& s = amx_state();
  if (s.configured) {
    b[0] = s.palette;
    for (int t = 0; t < 8; ++t) {
      std::memcpy(b + 16 + 2 * t, &s.colsb[t], 2);
      b[48 + t] = s.rows[t];
    }
  }
  std::memcpy(cfg, b, 64);
}

inline void amx_release() { amx_state() = AmxState{}; }

inline void amx_zero(int t) {
  amx_need_tile("TILEZERO", t);
  std::memset(amx_state().tile[t], 0, sizeof amx_state().tile[t]);
}

// TILELOADD: row r from base + r*stride, colsb bytes; bytes past colsb and
// rows past `rows` are zeroed.
inline void amx_loadd(int t, const void* base, int64_t stride, const char* insn = "TILELOADD") {
  amx_need_tile(insn, t);
  AmxState& s = amx_state();
  std::memset(s.tile[t], 0, sizeof s.tile[t]);
  const uint8_t* p = static_cast<const uint8_t*>(base);
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(s.tile[t][r], p + r * stride, s.colsb[t]);
}

inline void amx_stored(int t, void* base, int64_t stride) {
  amx_need_tile("TILESTORED", t);
  const AmxState& s = amx_state();
  uint8_t* p = static_cast<uint8_t*>(base);
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(p + r * stride, s.tile[t][r], s.colsb[t]);
}

// The shape rules shared by the dot-product instructions (#UD otherwise):
// distinct tiles, colsb multiples of 4, dst rows = a rows, a's K (colsb/4) =
// b rows, dst colsb = b colsb.
inline void amx_check_dp(const char* insn, int d, int a, int b) {
  amx_need_tile(insn, d);
  amx_need_tile(insn, a);
  amx_need_tile(insn, b);
  const AmxState& s = amx_state();
  if (d == a || d == b || a == b) amx_fault("#UD", insn, "source and destination tiles must differ", d);
  if (s.colsb[d] % 4 || s.colsb[a] % 4 || s.colsb[b] % 4) amx_fault("#UD", insn, "colsb not a multiple of 4", d);
  if (s.rows[d] != s.rows[a]) amx_fault("#UD", insn, "dst rows != src1 rows", d);
  if (s.colsb[a] / 4 != s.rows[b]) amx_fault("#UD", insn, "src1 colsb/4 != src2 rows", a);
  if (s.colsb[d] != s.colsb[b]) amx_fault("#UD", insn, "dst colsb != src2 colsb", d);
}

inline float amx_bf16(const uint8_t* p) {  // make_fp32 with DAZ
  uint16_t h;
  std::memcpy(&h, p, 2);
  return bf16_daz(h);
}

// TDPBF16PS: dst.fp32[m][n] += a.bf16[m][2k]*b.bf16[k][2n] + a.bf16[m][2k+1]*b.bf16[k][2n+1]
// over k, each step an FMA with DAZ in, FTZ out, RNE.
inline void amx_dpbf16ps(int d, int a, int b) {
  amx_check_dp("TDPBF16PS", d, a, b);
  AmxState& s = amx_state();
  const int M = s.rows[d], K = s.colsb[a] / 4, N = s.colsb[d] / 4;
  for (int m = 0; m < M; ++m) {
    float acc[16];
    std::memcpy(acc, s.tile[d][m], 64);
    for (int k = 0; k < K; ++k)
      for (int n = 0; n < N; ++n) {
        const uint8_t* pa = &s.tile[a][m][4 * k];
        const uint8_t* pb = &s.tile[b][k][4 * n];
        float v = ftz(__builtin_fmaf(amx_bf16(pa), amx_bf16(pb), acc[n]));
        acc[n] = ftz(__builtin_fmaf(amx_bf16(pa + 2), amx_bf16(pb + 2), v));
      }
    std::memset(s.tile[d][m], 0, 64);
    std::memcpy(s.tile[d][m], acc, size_t(N) * 4);
  }
}

// TDPB{U,S}{U,S}D: dst.int32[m][n] += sum over k and 4 bytes of a[m][4k+i] *
// b[k][4n+i], a/b bytes unsigned or signed per the name, wrapping.
template <bool ASigned, bool BSigned>
inline void amx_dpb(const char* insn, int d, int a, int b) {
  amx_check_dp(insn, d, a, b);
  AmxState& s = amx_state();
  const int M = s.rows[d], K = s.colsb[a] / 4, N = s.colsb[d] / 4;
  for (int m = 0; m < M; ++m) {
    int32_t acc[16];
    std::memcpy(acc, s.tile[d][m], 64);
    for (int k = 0; k < K; ++k)
      for (int n = 0; n < N; ++n) {
        uint32_t sum = uint32_t(acc[n]);
        for (int i = 0; i < 4; ++i) {
          const uint8_t x = s.tile[a][m][4 * k + i], y = s.tile[b][k][4 * n + i];
          const int32_t xv = ASigned ? int32_t(int8_t(x)) : int32_t(x);
          const int32_t yv = BSigned ? int32_t(int8_t(y)) : int32_t(y);
          sum += uint32_t(xv * yv);
        }
        acc[n] = int32_t(sum);
      }
    std::memset(s.tile[d][m], 0, 64);
    std::memcpy(s.tile[d][m], acc, size_t(N) * 4);
  }
}

}  // namespace dlcore_emu

// The intrinsics (GCC defines some as macros, some as functions; the macros
// below win at every use site of the tier files).
#undef _tile_loadconfig
#define _tile_loadconfig(cfg) dlcore_emu::amx_loadconfig(cfg)
#undef _tile_storeconfig
#define _tile_storeconfig(cfg) dlcore_emu::amx_storeconfig(cfg)
#undef _tile_release
#define _tile_release() dlcore_emu::amx_release()
#undef _tile_zero
#define _tile_zero(t) dlcore_emu::amx_zero(t)
#undef _tile_loadd
#define _tile_loadd(t, base, stride) dlcore_emu::amx_loadd(t, base, stride)
#undef _tile_stream_loadd
#define _tile_stream_loadd(t, base, stride) dlcore_emu::amx_loadd(t, base, stride, "TILELOADDT1")
#undef _tile_stored
#define _tile_stored(t, base, stride) dlcore_emu::amx_stored(t, base, stride)
#undef _tile_dpbf16ps
#define _tile_dpbf16ps(d, a, b) dlcore_emu::amx_dpbf16ps(d, a, b)
#undef _tile_dpbusd
#define _tile_dpbusd(d, a, b) dlcore_emu::amx_dpb<false, true>("TDPBUSD", d, a, b)
#undef _tile_dpbssd
#define _tile_dpbssd(d, a, b) dlcore_emu::amx_dpb<true, true>("TDPBSSD", d, a, b)
#undef _tile_dpbsud
#define _tile_dpbsud(d, a, b) dlcore_emu::amx_dpb<true, false>("TDPBSUD", d, a, b)
#undef _tile_dpbuud
#define _tile_dpbuud(d, a, b) dlcore_emu::amx_dpb<false, false>("TDPBUUD", d, a, b)
