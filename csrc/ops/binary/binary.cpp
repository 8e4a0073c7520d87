// Binary (XNOR + popcount) kernels: packing, the portable reference, and the
// registries (binary.h has the conventions).
#include "ops/binary/binary.h"

#include <algorithm>

#include "core/check.h"
#include "core/parallel.h"
#include "ops/binary/binary_kernels.h"

namespace dlcore {
namespace {

inline uint64_t popcount64(uint64_t v) { return binary_popcount64(v); }

struct RefPop {
  static uint64_t count1(const uint64_t* x, const uint64_t* w, int64_t nw) {
    uint64_t c = 0;
    for (int64_t i = 0; i < nw; ++i) c += popcount64(x[i] ^ w[i]);
    return c;
  }
  static void count4(const uint64_t* x, const uint64_t* w0, const uint64_t* w1, const uint64_t* w2, const uint64_t* w3,
                     int64_t nw, uint64_t* cnt) {
    cnt[0] += count1(x, w0, nw);
    cnt[1] += count1(x, w1, nw);
    cnt[2] += count1(x, w2, nw);
    cnt[3] += count1(x, w3, nw);
  }
};

// The portable micro-kernel of the implicit-GEMM convolution (binary_kernels.h): 4 pixels x 4
// channels, words as they are.
struct RefConvUk {
  static constexpr int MR = 4, NR = 4, kParts = 1, kWRep = 1;
  static void split(uint64_t v, uint64_t* parts) { parts[0] = v; }
  static void store(float* y, const int32_t* c, int32_t n, float sc, float bi) { binary_store_mr<MR>(y, c, n, sc, bi); }
  static void store_adj(float* y, const int32_t* c, const int32_t* n, float sc, float bi) {
    binary_store_adj_mr<MR>(y, c, n, sc, bi);
  }
  static void run(const uint64_t* xp, const uint64_t* wp, int64_t k, int32_t* cnt) {
    uint64_t c[NR][MR] = {};
    for (int64_t q = 0; q < k; ++q)
      for (int j = 0; j < NR; ++j)
        for (int i = 0; i < MR; ++i) c[j][i] += popcount64(xp[q * MR + i] ^ wp[q * NR + j]);
    for (int j = 0; j < NR; ++j)
      for (int i = 0; i < MR; ++i) cnt[j * MR + i] = int32_t(c[j][i]);
  }
};

void run_pack_ref(const BinaryPackArgs& a) {
  if (a.nchw)
    binary_pack_nchw(a.x, a.n, a.c, a.h, a.w, a.groups, a.out);
  else
    binary_pack_rows(a.x, a.rows, a.k, a.out);
}

#ifdef DLCORE_HAVE_AVX2
void run_conv_avx2(const BinaryConvArgs& a) { binary_conv2d_avx2(a); }
void run_conv_avx2_nibble(const BinaryConvArgs& a) { binary_conv2d_avx2_nibble(a); }

// The nibble-table kernel (binary_avx2.cpp) works on blocks of 64 output pixels of one image and
// counts in 16 bits. Measured against the 8-pixel kernel (1 thread, CPU time, batch 2, load 5):
// 0.72-0.87 of its time on every VGG-16 3x3 layer from 28 x 28 up and 0.94 on AlexNet conv2 (27 x 27),
// but 1.40 on VGG conv5_1 (14 x 14) and 1.0-1.2 on AlexNet conv3-5 (13 x 13), where the last, partial
// block wastes up to a third of the work and the tiles are too few for the threads.
std::string declines_conv_nibble(const BinaryConvArgs& a) {
  const int64_t pixels = a.s.oh * a.s.ow, bits = a.s.kh * a.s.kw * a.s.icg();
  if (pixels < 512) return cat(pixels, " output pixels per image (< 512): the 8-pixel kernel is faster");
  if (bits > 65535) return cat(bits, " bits per output (> 65535): its 16-bit counters would overflow");
  return "";
}
void run_gemm_avx2(const BinaryGemmArgs& a) { binary_gemm_avx2(a); }
#endif
#ifdef DLCORE_HAVE_AVX512
void run_conv_vpopcnt(const BinaryConvArgs& a) { binary_conv2d_avx512vpopcnt(a); }
void run_gemm_vpopcnt(const BinaryGemmArgs& a) { binary_gemm_avx512vpopcnt(a); }
#endif

}  // namespace

void binary_conv2d_ref(const BinaryConvArgs& a) { binary_conv2d_impl<RefConvUk>(a); }
void binary_gemm_ref(const BinaryGemmArgs& a) { binary_gemm_impl<RefPop>(a); }

const Registry<BinaryConvArgs>& binary_conv2d_registry() {
  // Every entry accepts every geometry; fastest first.
  static const Registry<BinaryConvArgs> registry(
      "binary_conv2d", {
#ifdef DLCORE_HAVE_AVX512
                           {"binary_conv2d_avx512vpopcnt", Isa::avx512_vpopcnt, nullptr, run_conv_vpopcnt},
#endif
#ifdef DLCORE_HAVE_AVX2
                           {"binary_conv2d_avx2_nibble", Isa::avx2, declines_conv_nibble, run_conv_avx2_nibble},
                           {"binary_conv2d_avx2_pshufb", Isa::avx2, nullptr, run_conv_avx2},
#endif
                           {"binary_conv2d_ref", Isa::ref, nullptr, binary_conv2d_ref},
                       });
  return registry;
}

const Registry<BinaryPackArgs>& binary_pack_registry() {
  static const Registry<BinaryPackArgs> registry(
      "binary_pack", {
#ifdef DLCORE_HAVE_AVX2
                         {"binary_pack_avx2_movemask", Isa::avx2, nullptr, binary_pack_avx2},
#endif
                         {"binary_pack_ref", Isa::ref, nullptr, run_pack_ref},
                     });
  return registry;
}

const Registry<BinaryGemmArgs>& binary_gemm_registry() {
  static const Registry<BinaryGemmArgs> registry(
      "binary_gemm", {
#ifdef DLCORE_HAVE_AVX512
                         {"binary_gemm_avx512vpopcnt", Isa::avx512_vpopcnt, nullptr, run_gemm_vpopcnt},
#endif
#ifdef DLCORE_HAVE_AVX2
                         {"binary_gemm_avx2_pshufb", Isa::avx2, nullptr, run_gemm_avx2},
#endif
                         {"binary_gemm_ref", Isa::ref, nullptr, binary_gemm_ref},
                     });
  return registry;
}

void binary_pack_rows(const float* v, int64_t rows, int64_t k, uint64_t* out) {
  const int64_t words = (k + 63) / 64;
  parallel_units(rows, rows * k * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = v + r * k;
      uint64_t* dst = out + r * words;
      for (int64_t q = 0; q < words; ++q) {
        const int64_t end = std::min<int64_t>(64, k - 64 * q);
        uint64_t word = 0;
        for (int64_t b = 0; b < end; ++b) word |= uint64_t(src[64 * q + b] >= 0.0f) << b;
        dst[q] = word;
      }
    }
  });
}

void binary_pack_nchw(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t groups, uint64_t* out) {
  const int64_t cg = c / groups, wcg = (cg + 63) / 64, wc = groups * wcg;
  // Unit: one (image, row); its W pixels x wc words are built in place.
  parallel_units(n * h, n * c * h * w * 4, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t img = u / h, row = u % h;
      uint64_t* dst = out + u * w * wc;
      std::fill(dst, dst + w * wc, uint64_t(0));
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t g = ch / cg, cc = ch % cg;
        const int64_t word = g * wcg + cc / 64, bit = cc % 64;
        const float* src = x + ((img * c + ch) * h + row) * w;
        for (int64_t col = 0; col < w; ++col) dst[col * wc + word] |= uint64_t(src[col] >= 0.0f) << bit;
      }
    }
  });
}

}  // namespace dlcore
