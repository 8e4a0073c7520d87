// Dropout with a counter-based generator (Philox-4x32-10, Salmon et al. 2011).
//
// The mask depends only on (seed, element index), never on the thread count
// or the ISA. Elements come in groups of 128 fed by 16 Philox calls: element
// 128 g + 16 k + j (k < 8, j < 16) takes the 16-bit half k % 2 (0 = low) of
// word k / 2 of Philox(counter = 16 g + j, key = seed), a uniform u in
// [0, 2^16), and is kept when u >= ceil(p * 2^16): the keep probability is
// 1 - ceil(p * 2^16) / 2^16, within 2^-16 of 1 - p (exact for p = k / 2^16,
// e.g. 0.5, 0.25). 16 bits per element, not 32, halve the Philox work, which
// is what bounds the forward pass on the CPU.
#pragma once
#include <cstdint>

#include "dispatch/registry.h"

namespace dlcore {

struct DropoutArgs {
  bool forward = true;
  int64_t n = 0;
  float p = 0.0f;
  uint64_t seed = 0;
  const float* in = nullptr;   // x (forward) or dy (backward)
  float* out = nullptr;        // y or dx
  uint8_t* mask = nullptr;     // written by forward, read by backward (1 = kept)
};

const Registry<DropoutArgs>& dropout_registry(bool forward);

void dropout_avx2(const DropoutArgs& a);
void dropout_avx512(const DropoutArgs& a);

}  // namespace dlcore
