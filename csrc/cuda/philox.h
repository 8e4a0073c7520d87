// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11; the constants of Random123), host and device. The dropout mask
// depends only on (seed, element index), never on the launch shape or the
// thread count, so CPU and GPU can draw the identical mask:
//
//   key     = (seed & 0xffffffff, seed >> 32)
//   counter = (i & 0xffffffff, i >> 32, 0, 0)        i = flat element index
//   u       = (philox(counter, key)[0] >> 8) * 2^-24  uniform in [0, 1), 24 bits
//   keep    = u >= p
//
// Header-only and free of CUDA types so a C++ (CPU) kernel can include it too.
#pragma once
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

// Ten rounds, the key bumped by the Weyl constants between them.
DLCORE_HOST_DEVICE Uint4 philox4x32_10(Uint4 counter, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    counter = round(counter, k0, k1);
    k0 += kW0;
    k1 += kW1;
  }
  return counter;
}

// Uniform in [0, 1) for element `index` under `seed` (the dropout convention above).
DLCORE_HOST_DEVICE float uniform(uint64_t seed, uint64_t index) {
  const Uint4 counter{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u};
  const Uint4 r = philox4x32_10(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return static_cast<float>(r.x >> 8) * (1.0f / 16777216.0f);
}

// Whether dropout keeps element `index` (probability 1 - p).
DLCORE_HOST_DEVICE bool keep(uint64_t seed, uint64_t index, float p) { return uniform(seed, index) >= p; }

}  // namespace philox
}  // namespace dlcore
