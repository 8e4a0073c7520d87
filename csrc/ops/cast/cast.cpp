// float32 <-> bfloat16: the scalar reference, the thread split, the registries.
#include "ops/cast/cast.h"

#include <algorithm>

#include "core/bf16.h"
#include "core/parallel.h"
#include "core/threads.h"

namespace dlcore {
namespace {

// Splits [0, n) over threads that get at least 64 Ki elements each
// (core/parallel.h: ranges from the tile pool).
template <class Fn>
void split(int64_t n, Fn fn) {
  constexpr int64_t kMinChunk = 1 << 16;
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), n / kMinChunk)));
  parallel_split(n, nt, fn);
}

void to_bf16_ref(const CastF32ToBf16Args& a) {
  split(a.n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a.dst[i] = f32_to_bf16(a.src[i]);
  });
}
void to_f32_ref(const CastBf16ToF32Args& a) {
  split(a.n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a.dst[i] = bf16_to_f32(a.src[i]);
  });
}
#ifdef DLCORE_HAVE_AVX2
void to_bf16_avx2(const CastF32ToBf16Args& a) {
  split(a.n, [&](int64_t lo, int64_t hi) { cast_f32_to_bf16_avx2(a.src + lo, a.dst + lo, hi - lo); });
}
void to_f32_avx2(const CastBf16ToF32Args& a) {
  split(a.n, [&](int64_t lo, int64_t hi) { cast_bf16_to_f32_avx2(a.src + lo, a.dst + lo, hi - lo); });
}
#endif
#ifdef DLCORE_HAVE_AVX512
void to_bf16_avx512bf16(const CastF32ToBf16Args& a) {
  split(a.n, [&](int64_t lo, int64_t hi) { cast_f32_to_bf16_avx512bf16(a.src + lo, a.dst + lo, hi - lo); });
}
#endif

}  // namespace

const Registry<CastF32ToBf16Args>& cast_f32_to_bf16_registry() {
  static const Registry<CastF32ToBf16Args> registry(
      "cast_f32_to_bf16", {
#ifdef DLCORE_HAVE_AVX512
                              {"cast_f32_to_bf16_avx512bf16", Isa::avx512_bf16, nullptr, to_bf16_avx512bf16},
#endif
#ifdef DLCORE_HAVE_AVX2
                              {"cast_f32_to_bf16_avx2", Isa::avx2, nullptr, to_bf16_avx2},
#endif
                              {"cast_f32_to_bf16_ref", Isa::ref, nullptr, to_bf16_ref},
                          });
  return registry;
}

const Registry<CastBf16ToF32Args>& cast_bf16_to_f32_registry() {
  // bf16 -> float32 is a 16-bit shift: AVX2's vpmovzxwd + vpslld is as good
  // as anything AVX512-BF16 offers, so that tier has no entry of its own.
  static const Registry<CastBf16ToF32Args> registry("cast_bf16_to_f32",
                                                    {
#ifdef DLCORE_HAVE_AVX2
                                                        {"cast_bf16_to_f32_avx2", Isa::avx2, nullptr, to_f32_avx2},
#endif
                                                        {"cast_bf16_to_f32_ref", Isa::ref, nullptr, to_f32_ref},
                                                    });
  return registry;
}

}  // namespace dlcore
