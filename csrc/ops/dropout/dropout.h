// Dropout with a counter-based generator: Philox-4x32 (Salmon et al. 2011)
// with 8 rounds.
//
// Why 8 rounds, not Random123's default 10: Salmon et al. find 7 rounds the
// fewest with which Philox-4x32 passes all of TestU01's BigCrush, and keep
// 3 more as a safety margin for general use; 8 keeps one. A dropout mask
// needs far less than BigCrush-grade randomness, and on the CPU the
// multiplies of Philox bound the forward pass: on the 2-core Zen 1 dev
// machine 10 rounds ran at 80-90% of copy bandwidth on a quiet machine
// (69-83% in the interleaved report), 8 rounds at 92-112%. The generator is
// Philox-4x32's round function, unchanged; tests check it against Random123's
// known answers at 10 rounds.
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
  const float* in = nullptr;  // x (forward) or dy (backward)
  float* out = nullptr;       // y or dx
  uint8_t* mask = nullptr;    // written by forward, read by backward (1 = kept)
};

const Registry<DropoutArgs>& dropout_registry(bool forward);

void dropout_avx2(const DropoutArgs& a);
void dropout_avx512(const DropoutArgs& a);

}  // namespace dlcore
