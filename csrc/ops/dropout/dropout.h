// Dropout with a counter-based generator (Philox-4x32-10, Salmon et al. 2011).
//
// The mask depends only on (seed, element index), never on the thread count
// or the ISA: element 64 g + 16 k + j (k < 4, j < 16) takes word k of
// Philox(counter = 16 g + j, key = seed), so one Philox call feeds 4
// elements and a 16-lane block of calls feeds 64 consecutive elements with
// no shuffling. u = (word >> 8) * 2^-24 is uniform on [0, 1) in steps of
// 2^-24; the element is kept when u >= p.
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
