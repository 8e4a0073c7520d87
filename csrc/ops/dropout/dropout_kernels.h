// Dropout kernels over the vector type V (see dropout.h for the element ->
// random-word mapping). Include only from dropout.cpp / dropout_avx2.cpp /
// dropout_avx512.cpp (anonymous namespace: one copy per ISA).
//
// Forward is bound by Philox, not by memory: 8 rounds (dropout.h says why
// not 10) of two 32x32->64-bit multiplies per call, each call feeding 8
// elements (16 bits each). The vector path keeps the counters as 64-bit lanes (even and odd 32-bit lanes
// in two registers), where one multiply-unsigned-even instruction yields both
// halves of a product with no re-interleaving, and runs all the chains of a
// group together so the multiplier's latency is hidden. The random words go
// through a 64-word buffer; the element pass then reads them like any input.
#pragma once
#include <type_traits>

#include "core/simd.h"
#include "ops/dropout/dropout.h"
#include "ops/eltwise/loops.h"

namespace dlcore {
namespace {

constexpr int kCallsPerGroup = 16;
constexpr int kWordsPerGroup = 4 * kCallsPerGroup;
constexpr int64_t kGroup = 2 * kWordsPerGroup;  // elements fed by a group's 16 calls (16 bits each)
constexpr int kRounds = 8;                      // dropout.h: why 8
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

// Philox-4x32 (kRounds rounds) of one 64-bit counter (counter words 2 and 3
// are zero): the textbook form, used by the reference path.
inline void philox_scalar(uint64_t counter, uint32_t k0, uint32_t k1, uint32_t out[4]) {
  uint32_t c[4] = {uint32_t(counter), uint32_t(counter >> 32), 0, 0};
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t p0 = uint64_t(kPhiloxM0) * c[0], p1 = uint64_t(kPhiloxM1) * c[2];
    c[0] = uint32_t(p1 >> 32) ^ c[1] ^ k0;
    c[1] = uint32_t(p1);
    c[2] = uint32_t(p0 >> 32) ^ c[3] ^ k1;
    c[3] = uint32_t(p0);
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  for (int k = 0; k < 4; ++k) out[k] = c[k];
}

// The round keys, replicated across a vector and computed once per call, so
// that a round xors straight from memory (left to itself, the compiler
// re-broadcasts them from scalars inside the loop: 2 extra shuffles a key).
template <class V>
struct PhiloxKeys {
  alignas(64) int32_t k0[kRounds][V::width], k1[kRounds][V::width];
  PhiloxKeys(uint32_t key0, uint32_t key1) {
    for (int r = 0; r < kRounds; ++r) {
      for (int l = 0; l < V::width; ++l) {
        k0[r][l] = int32_t(key0 + uint32_t(r) * kPhiloxW0);
        k1[r][l] = int32_t(key1 + uint32_t(r) * kPhiloxW1);
      }
    }
    __asm__ volatile("" : : "r"(this) : "memory");  // forget the values: keep them in memory
  }
};

// Philox-4x32 (kRounds rounds) of N * V::width counters (low words `ctr_lo[i]` per lane,
// high word `ctr_hi` shared): out[i][k] = word k of the counters in
// ctr_lo[i]. Each register of counters runs as two chains of 64-bit lanes
// (even and odd 32-bit lanes); only the low 32 bits of a 64-bit lane matter,
// as the multiply ignores the high ones. The 2 N chains are independent, so
// the multiplier's latency hides behind the other chains' work.
template <class V, int N>
DLCORE_INLINE void philox_lanes(const typename V::ireg ctr_lo[N], uint32_t ctr_hi, const PhiloxKeys<V>& key,
                                typename V::ireg out[N][4]) {
  using ireg = typename V::ireg;
  const ireg m0 = V::iset1(int32_t(kPhiloxM0)), m1 = V::iset1(int32_t(kPhiloxM1));
  ireg c[2 * N][4];  // [chain: even lanes of ctr_lo[q / 2], odd lanes][counter word]
  for (int q = 0; q < 2 * N; ++q) {
    // Round 0 with counter words 2 and 3 zero: the second product is 0.
    const ireg lo = q % 2 == 0 ? ctr_lo[q / 2] : V::ihigh_to_low64(ctr_lo[q / 2]);
    const ireg p0 = V::imul_even_u32(lo, m0);
    c[q][0] = V::ixor(V::iset1(int32_t(ctr_hi)), V::iload(key.k0[0]));
    c[q][1] = V::iset1(0);
    c[q][2] = V::ixor(V::ihigh_to_low64(p0), V::iload(key.k1[0]));
    c[q][3] = p0;
  }
#pragma GCC unroll 7
  for (int r = 1; r < kRounds; ++r) {
    for (int q = 0; q < 2 * N; ++q) {
      const ireg p0 = V::imul_even_u32(c[q][0], m0), p1 = V::imul_even_u32(c[q][2], m1);
      c[q][0] = V::ixor(V::ixor(V::ihigh_to_low64(p1), c[q][1]), V::iload(key.k0[r]));
      c[q][1] = p1;
      c[q][2] = V::ixor(V::ixor(V::ihigh_to_low64(p0), c[q][3]), V::iload(key.k1[r]));
      c[q][3] = p0;
    }
  }
  for (int i = 0; i < N; ++i) {
    for (int k = 0; k < 4; ++k) out[i][k] = V::iblend_odd(c[2 * i][k], V::ilow_to_high64(c[2 * i + 1][k]));
  }
}

// The 64 random words of group g: words[16 k + j] = word k of
// Philox(counter = 16 g + j).
template <class V>
DLCORE_INLINE void group_words(int64_t group, const PhiloxKeys<V>& key, uint32_t words[kWordsPerGroup]) {
  const uint64_t first = uint64_t(group) * kCallsPerGroup;
  if constexpr (std::is_same_v<V, simd::Scalar>) {
    // Round 0's keys are the seed's two halves.
    const uint32_t k0 = uint32_t(key.k0[0][0]), k1 = uint32_t(key.k1[0][0]);
    for (int j = 0; j < kCallsPerGroup; ++j) {
      uint32_t w[4];
      philox_scalar(first + uint64_t(j), k0, k1, w);
      for (int k = 0; k < 4; ++k) words[kCallsPerGroup * k + j] = w[k];
    }
  } else {
    constexpr int N = kCallsPerGroup / V::width;
    alignas(64) static constexpr int32_t kLane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    // The low counter word never carries into the high one inside a group (16 g is a multiple of 16).
    typename V::ireg ctr_lo[N], w[N][4];
    for (int i = 0; i < N; ++i)
      ctr_lo[i] = V::iadd(V::iset1(int32_t(uint32_t(first) + uint32_t(i * V::width))), V::iload(kLane));
    philox_lanes<V, N>(ctr_lo, uint32_t(first >> 32), key, w);
    for (int i = 0; i < N; ++i) {
      for (int k = 0; k < 4; ++k) {
        V::istore(reinterpret_cast<int32_t*>(words) + kCallsPerGroup * k + i * V::width, w[i][k]);
      }
    }
  }
}

// Per-call constants of the element pass. Element 16 k + j of a group (k < 8,
// j < 16) draws u = half k % 2 (0: low) of word k / 2 of call j, a 16-bit
// uniform, and is kept when u * 2^-16 >= p, i.e. u >= T = ceil(p * 2^16)
// (exact: p * 2^16 is exact in double). Low halves are masked and compared as
// is; high halves are compared in place, word >= T * 2^16 unsigned, as a
// signed compare after flipping the top bit (a shift costs more on Zen 1).
// 0 < p < 1 keeps both thresholds in range; p = 0 and p = 1 (keep all, drop
// all) never reach them.
struct DropoutConstants {
  int32_t low_above;   // keep a low half when (word & 0xffff) > low_above
  int32_t high_above;  // keep a high half when int32(word ^ 0x80000000) > high_above
  float scale;         // 1 / (1 - p)
  explicit DropoutConstants(float p)
      : low_above(int32_t(threshold(p)) - 1),
        high_above(int32_t(uint32_t(threshold(p) * 65536 - 1) ^ 0x80000000u)),
        scale(p < 1.0f ? 1.0f / (1.0f - p) : 0.0f) {}
  static int64_t threshold(float p) { return int64_t(std::ceil(double(p) * 65536.0)); }
  bool keep(uint32_t word, bool high_half) const {
    return high_half ? int32_t(word ^ 0x80000000u) > high_above : int32_t(word & 0xffffu) > low_above;
  }
};

// Where element e of a group finds its random bits.
constexpr int word_of(int e) { return kCallsPerGroup * (e / (2 * kCallsPerGroup)) + e % kCallsPerGroup; }
constexpr bool high_half_of(int e) { return (e / kCallsPerGroup) % 2 == 1; }

// Forward over one whole group: y = keep ? x * scale : 0, mask = keep. Every
// run of W elements lies inside one 16-element run, so it reads W
// consecutive words and one half of each.
template <class V, bool kStream>
DLCORE_INLINE void forward_group(const DropoutArgs& a, const DropoutConstants& dc, int64_t base,
                                 const uint32_t words[kWordsPerGroup]) {
  constexpr int W = V::width;
  static_assert(kCallsPerGroup % W == 0, "a vector must not straddle two 16-element runs");
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  const ireg low_above = V::iset1(dc.low_above), high_above = V::iset1(dc.high_above);
  const ireg low_bits = V::iset1(0xffff), top_bit = V::iset1(int32_t(0x80000000u));
  const reg scale = V::set1(dc.scale);
#pragma GCC unroll 4
  for (int i = 0; i < kGroup; i += 4 * W) {
    typename V::cmask keep[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      const int e = i + r * W;
      const ireg w = V::iload(reinterpret_cast<const int32_t*>(words) + word_of(e));
      keep[r] =
          high_half_of(e) ? V::icmp_gt(V::ixor(w, top_bit), high_above) : V::icmp_gt(V::iand(w, low_bits), low_above);
      const reg y = V::zero_unless(keep[r], V::mul(V::load(a.in + base + e), scale));
      if constexpr (kStream) {
        V::stream(a.out + base + e, y);
      } else {
        V::store(a.out + base + e, y);
      }
    }
    // The mask goes through the cache even when y streams: measured, its
    // 32-byte non-temporal halves of a line stalled the 2-thread run.
    V::store_flags_u8x4(a.mask + base + i, keep[0], keep[1], keep[2], keep[3]);
  }
}

// The last, partial group (count < 128 elements): never touches memory past n.
inline void forward_tail(const DropoutArgs& a, const DropoutConstants& dc, int64_t base, int count,
                         const uint32_t words[kWordsPerGroup]) {
  for (int e = 0; e < count; ++e) {
    const bool keep = dc.keep(words[word_of(e)], high_half_of(e));
    a.out[base + e] = keep ? a.in[base + e] * dc.scale : 0.0f;
    a.mask[base + e] = keep ? 1 : 0;
  }
}

template <class V, bool kStream>
void forward_range(const DropoutArgs& a, int64_t g0, int64_t g1) {
  const PhiloxKeys<V> key(uint32_t(a.seed), uint32_t(a.seed >> 32));
  const DropoutConstants dc(a.p);
  alignas(64) uint32_t words[kWordsPerGroup];
  for (int64_t g = g0; g < g1; ++g) {
    group_words<V>(g, key, words);
    const int64_t base = g * kGroup;
    if (a.n - base >= kGroup) {
      forward_group<V, kStream>(a, dc, base, words);
    } else {
      forward_tail(a, dc, base, int(a.n - base), words);
    }
  }
  if constexpr (kStream) V::stream_fence();
}

// Backward: dx = mask ? dy * scale : 0 over [begin, end) (begin a group boundary).
template <class V, bool kStream>
void backward_range(const DropoutArgs& a, int64_t begin, int64_t end) {
  constexpr int W = V::width;
  using reg = typename V::reg;
  const float s = DropoutConstants(a.p).scale;
  const reg scale = V::set1(s);
  const typename V::ireg zero = V::iset1(0);
  int64_t e = begin;
  for (; e + W <= end; e += W) {
    const auto keep = V::icmp_gt(V::load_u8(a.mask + e), zero);
    const reg dx = V::zero_unless(keep, V::mul(V::load(a.in + e), scale));
    if constexpr (kStream) {
      V::stream(a.out + e, dx);
    } else {
      V::store(a.out + e, dx);
    }
  }
  for (; e < end; ++e) a.out[e] = a.mask[e] ? a.in[e] * s : 0.0f;
  if constexpr (kStream) V::stream_fence();
}

// p = 0 keeps every element, p = 1 drops every one (y = x or 0, mask all 1 or 0).
inline void forward_trivial(const DropoutArgs& a, int64_t begin, int64_t end) {
  const bool keep = a.p == 0.0f;
  for (int64_t e = begin; e < end; ++e) {
    a.out[e] = keep ? a.in[e] : 0.0f;
    a.mask[e] = keep ? 1 : 0;
  }
}

template <class V>
void dropout_kernel(const DropoutArgs& a) {
  const int64_t groups = (a.n + kGroup - 1) / kGroup;
  // Philox costs several instructions per element: a second thread pays off early.
  const int nt = a.forward ? threads_for(a.n, kMinElementsPerThread / 4) : threads_for(a.n, kMinElementsPerThread);
  // Streaming stores need y aligned to the vector; the group structure (128
  // elements) keeps every store aligned then.
  const bool stream = a.n * int64_t(sizeof(float)) >= kStreamMinBytes &&
                      reinterpret_cast<uintptr_t>(a.out) % (sizeof(float) * V::width) == 0;
  parallel_split(groups, nt, [&](int64_t g0, int64_t g1) {
    const int64_t begin = g0 * kGroup, end = g1 * kGroup < a.n ? g1 * kGroup : a.n;
    if (!a.forward && stream) {
      backward_range<V, true>(a, begin, end);
    } else if (!a.forward) {
      backward_range<V, false>(a, begin, end);
    } else if (a.p == 0.0f || a.p == 1.0f) {
      forward_trivial(a, begin, end);
    } else if (stream) {
      forward_range<V, true>(a, g0, g1);
    } else {
      forward_range<V, false>(a, g0, g1);
    }
  });
}

}  // namespace
}  // namespace dlcore
