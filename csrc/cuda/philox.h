// Philox-4x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11; the constants of Random123), host and device: the dropout mask
// runs kDropoutRounds = 8 rounds (csrc/ops/dropout/dropout.h says why not
// Random123's 10; philox4x32<10> is kept for the known-answer tests). The mask
// depends only on (seed, element index), never on the launch shape or the
// thread count, and is the CPU kernels' mask (csrc/ops/dropout/dropout.h):
//
//   key     = (seed & 0xffffffff, seed >> 32)
//   element i = 128 g + 16 k + j        (k < 8, j < 16)
//   counter = 16 g + j  as (lo, hi, 0, 0): call c feeds elements 128 (c / 16) + 16 k + c % 16
//   u       = 16-bit half k % 2 (0 = low) of word k / 2 of philox4x32<8>(counter, key)
//   keep    = u >= ceil(p * 2^16)
//
// Header-only and free of CUDA types so a C++ (CPU) kernel can include it too.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DLCORE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DLCORE_HOST_DEVICE inline
#endif

namespace dlcore {
namespace philox {

struct Uint4 {
  uint32_t x, y, z, w;
};

DLCORE_HOST_DEVICE uint32_t mulhi(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
}

DLCORE_HOST_DEVICE Uint4 round(Uint4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  const uint32_t hi0 = mulhi(kM0, c.x), lo0 = kM0 * c.x;
  const uint32_t hi1 = mulhi(kM1, c.z), lo1 = kM1 * c.z;
  return {hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
}

// Rounds rounds, the key bumped by the Weyl constants between them.
template <int Rounds>
DLCORE_HOST_DEVICE Uint4 philox4x32(Uint4 counter, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int r = 0; r < Rounds; ++r) {
    counter = round(counter, k0, k1);
    k0 += kW0;
    k1 += kW1;
  }
  return counter;
}

constexpr int kDropoutRounds = 8;
constexpr int kCallsPerGroup = 16, kElementsPerCall = 8;

// ceil(p * 2^16): keep an element when its 16-bit uniform is at least this
// (0 keeps everything, 65536 drops everything).
inline uint32_t keep_threshold(float p) { return static_cast<uint32_t>(std::ceil(double(p) * 65536.0)); }

DLCORE_HOST_DEVICE uint32_t word(const Uint4& r, int k) { return k == 0 ? r.x : k == 1 ? r.y : k == 2 ? r.z : r.w; }

// Element 16 k + j of call `call`'s group: is it kept?
DLCORE_HOST_DEVICE bool keep_part(const Uint4& r, int k, uint32_t threshold) {
  const uint32_t w = word(r, k / 2);
  return ((k % 2 == 1) ? (w >> 16) : (w & 0xffffu)) >= threshold;
}

DLCORE_HOST_DEVICE Uint4 call(uint64_t seed, uint64_t counter) {
  return philox4x32<kDropoutRounds>({static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u},
                                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Whether dropout keeps element `index` (probability 1 - ceil(p * 2^16) / 2^16).
inline bool keep(uint64_t seed, uint64_t index, float p) {
  const uint64_t group = index / (kCallsPerGroup * kElementsPerCall);
  const int rest = static_cast<int>(index % (kCallsPerGroup * kElementsPerCall));
  const Uint4 r = call(seed, group * kCallsPerGroup + uint64_t(rest % kCallsPerGroup));
  return keep_part(r, rest / kCallsPerGroup, keep_threshold(p));
}

}  // namespace philox
}  // namespace dlcore
