// The 256-bit (ymm) register operations of the int8 micro-kernel's `Ops`
// (gemm/ukernel_s8.h), shared by the AVX2 and AVX-VNNI kernels: they differ
// only in dot(). Include only from a ukernel_s8_*.cpp compiled with AVX2 or
// later. The anonymous namespace is deliberate: each including file is built
// with its own ISA flags, so each must keep its own copy (a shared inline
// definition could be merged by the linker into the one built for the newer ISA).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace dlcore {
namespace {

struct YmmS8Ops {
  using reg = __m256i;
  static constexpr int lanes = 8;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static reg bcast(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static reg loadc(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storec(int32_t* p, reg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static reg add(reg x, reg y) { return _mm256_add_epi32(x, y); }
};

}  // namespace
}  // namespace dlcore
