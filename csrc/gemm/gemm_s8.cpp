// int8 GEMM loops (gemm/gemm_s8.h): the float GEMM's BLIS structure
// (gemm/gemm.cpp) with int32 tiles, k packed in quads, and the zero-point
// compensation applied once per output after the last k block.
#include "gemm/gemm_s8.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "core/buffer.h"
#include "core/check.h"
#include "core/pool.h"
#include "core/threads.h"

namespace dlcore {
namespace {

constexpr int kMaxMr = 32;
constexpr int kMaxNr = 64;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bytes of one micro-panel of `tile` rows over `kc` k.
int64_t panel_bytes(const GemmS8Kernel& kern, int64_t kc, int tile) {
  return ceil_div(kc, kern.k_align) * kern.k_align / 4 * kern.steps_per_k4 * tile * 4;
}

inline void micro_tile(const GemmS8Kernel& kern, int64_t steps, const void* ap, const void* bp, int32_t* c, int64_t ldc,
                       int rows, int cols, bool accumulate) {
  if (rows == kern.mr && cols == kern.nr) {
    kern.ukernel(steps, ap, bp, c, ldc, accumulate);
    return;
  }
  alignas(64) int32_t tile[kMaxMr * kMaxNr];
  kern.ukernel(steps, ap, bp, tile, kern.nr, false);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      int32_t* cp = c + i * ldc + j;
      *cp = accumulate ? *cp + tile[i * kern.nr + j] : tile[i * kern.nr + j];
    }
}

// B already packed (gemm_s8_pack_weights): the panels, the index of this
// view's first column panel, and the column panels of the whole B.
struct PrepackedB {
  const uint8_t* panels = nullptr;
  int64_t panel0 = 0, n_panels = 0;
};

// One sub-product (rows [0, m) x columns [0, n) of the views passed) on the
// calling thread, with its own packing buffers (B's only when not prepacked).
void gemm_s8_serial(const GemmS8Args& g, const uint8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t n,
                    const int32_t* colsum, const GemmS8Kernel& kern, const PrepackedB& pre = PrepackedB()) {
  const int64_t k = g.k;
  const int mr = kern.mr, nr = kern.nr;
  thread_local ScratchBuffer tb, ta;  // float-sized scratch, used as bytes
  const int64_t kc_max = std::min<int64_t>(kern.kc, k);
  const int64_t nc_max = std::min<int64_t>(kern.nc, n), mc_max = std::min<int64_t>(kern.mc, m);
  uint8_t* bbuf =
      pre.panels
          ? nullptr
          : reinterpret_cast<uint8_t*>(tb.get(size_t(ceil_div(nc_max, nr) * panel_bytes(kern, kc_max, nr)) / 4 + 16));
  uint8_t* abuf =
      reinterpret_cast<uint8_t*>(ta.get(size_t(ceil_div(mc_max, mr) * panel_bytes(kern, kc_max, mr)) / 4 + 16));
  for (int64_t jc = 0; jc < n; jc += kern.nc) {
    const int64_t nc = std::min<int64_t>(kern.nc, n - jc);
    const int64_t n_panels = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < k; pc += kern.kc) {
      const int64_t kc = std::min<int64_t>(kern.kc, k - pc);
      const int64_t steps = ceil_div(kc, kern.k_align) * kern.k_align / 4 * kern.steps_per_k4;
      const int64_t a_panel = panel_bytes(kern, kc, mr), b_panel = panel_bytes(kern, kc, nr);
      for (int64_t ic = 0; ic < m; ic += kern.mc) {
        const int64_t mc = std::min<int64_t>(kern.mc, m - ic);
        const int64_t m_panels = ceil_div(mc, mr);
        for (int64_t ip = 0; ip < m_panels; ++ip) {
          const int rows = int(std::min<int64_t>(mr, mc - ip * mr));
          kern.pack_a(a, g.lda, ic + ip * mr, rows, pc, kc, k, mr, abuf + ip * a_panel);
        }
        for (int64_t jr = 0; jr < n_panels; ++jr) {
          const int cols = int(std::min<int64_t>(nr, nc - jr * nr));
          const uint8_t* bp;
          if (pre.panels) {  // block pc / KC holds n_panels panels of full-KC size before it
            bp = pre.panels + (pc / kern.kc) * pre.n_panels * panel_bytes(kern, kern.kc, nr) +
                 (pre.panel0 + (jc / nr) + jr) * b_panel;
          } else {
            uint8_t* bw = bbuf + jr * b_panel;
            if (ic == 0) kern.pack_b(b, g.ldb, jc + jr * nr, cols, pc, kc, k, nr, bw);
            bp = bw;
          }
          for (int64_t ir = 0; ir < m_panels; ++ir) {
            const int rows = int(std::min<int64_t>(mr, mc - ir * mr));
            micro_tile(kern, steps, abuf + ir * a_panel, bp, c + (ic + ir * mr) * g.ldc + jc + jr * nr, g.ldc, rows,
                       cols, pc > 0);
          }
        }
      }
    }
    // Zero point: sum_k (a - za) b = sum_k a b - za * sum_k b.
    if (colsum && g.a_zero_point != 0) {
      const int32_t za = g.a_zero_point;
      for (int64_t i = 0; i < m; ++i) {
        int32_t* row = c + i * g.ldc + jc;
        for (int64_t j = 0; j < nc; ++j) row[j] -= za * colsum[jc + j];
      }
    }
  }
}

// The float GEMM's barrier-free grid (gemm.cpp grid_for): the larger
// dimension is split so the redundant packing stays small.
void grid_for(int64_t m, int64_t n, int nt, const GemmS8Kernel& kern, int* tm, int* tn) {
  const int64_t m_panels = ceil_div(m, kern.mr), n_panels = ceil_div(n, kern.nr);
  *tm = 1;
  *tn = 1;
  double best = 1e300;
  for (int r = 1; r <= nt; ++r) {
    if (nt % r) continue;
    const int q = nt / r;
    if (r > m_panels || q > n_panels) continue;
    const double pack = double(q) * double(m) + double(r) * double(n);
    const double share = double(ceil_div(m_panels, r) * kern.mr) * double(ceil_div(n_panels, q) * kern.nr);
    const double cost = pack * 8.0 + (share - double(m) * double(n) / nt);
    if (cost < best) {
      best = cost;
      *tm = r;
      *tn = q;
    }
  }
}

// Below about 4 M multiply-adds per thread a second thread costs more than it saves.
constexpr double kMinMacsPerThread = 4.0e6;

// `packed`: B pre-packed by gemm_s8_pack_weights (its column sums included), else nullptr.
void gemm_s8_blis(const GemmS8Args& g, const GemmS8Kernel& kern, const uint8_t* packed = nullptr) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    for (int64_t i = 0; i < g.m; ++i) std::fill(g.c + i * g.ldc, g.c + i * g.ldc + g.n, 0);
    return;
  }
  std::vector<int32_t> colsum;
  const int32_t* packed_colsum = packed ? reinterpret_cast<const int32_t*>(packed + kGemmS8PackedHeaderBytes) : nullptr;
  const uint8_t* packed_panels = packed ? packed + kGemmS8PackedHeaderBytes + (g.n * 4 + 63) / 64 * 64 : nullptr;
  if (g.a_zero_point != 0 && !packed) {
    colsum.resize(size_t(g.n));
    for (int64_t j = 0; j < g.n; ++j) {
      const int8_t* row = g.b + j * g.ldb;
      int32_t s = 0;
      for (int64_t p = 0; p < g.k; ++p) s += row[p];
      colsum[size_t(j)] = s;
    }
  }
  const int32_t* cs =
      packed ? (g.a_zero_point != 0 ? packed_colsum : nullptr) : (colsum.empty() ? nullptr : colsum.data());
  const int64_t n_panels_all = ceil_div(g.n, kern.nr);
  const int all = g.num_threads > 0 ? g.num_threads : get_num_threads();
  const double macs = double(g.m) * double(g.n) * double(g.k);
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(all, int64_t(macs / kMinMacsPerThread))));
  if (nt <= 1) {
    gemm_s8_serial(g, g.a, g.b, g.c, g.m, g.n, cs, kern, PrepackedB{packed_panels, 0, n_panels_all});
    return;
  }
  int tm, tn;
  grid_for(g.m, g.n, nt, kern, &tm, &tn);
  const int64_t m_panels = ceil_div(g.m, kern.mr), n_panels = ceil_div(g.n, kern.nr);
  // One tile per (row block, column block) of the grid, on the tile pool (core/pool.h): on a busy
  // machine an OpenMP join waits for every thread of the team, the pool only for tiles claimed.
  parallel_tiles(int64_t(tm) * tn, tm * tn, [&](int64_t t) {
    const int ti = int(t / tn), tj = int(t % tn);
    const int64_t r0 = std::min(g.m, ti * ceil_div(m_panels, tm) * kern.mr);
    const int64_t r1 = std::min(g.m, (ti + 1) * ceil_div(m_panels, tm) * kern.mr);
    const int64_t c0 = std::min(g.n, tj * ceil_div(n_panels, tn) * kern.nr);
    const int64_t c1 = std::min(g.n, (tj + 1) * ceil_div(n_panels, tn) * kern.nr);
    if (r1 > r0 && c1 > c0)
      gemm_s8_serial(g, g.a + r0 * g.lda, packed ? nullptr : g.b + c0 * g.ldb, g.c + r0 * g.ldc + c0, r1 - r0, c1 - c0,
                     cs ? cs + c0 : nullptr, kern, PrepackedB{packed_panels, c0 / kern.nr, n_panels_all});
  });
}

void run_ref(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_ref()); }
#ifdef DLCORE_HAVE_AVX512
void run_amx(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_amx()); }
#endif
#ifdef DLCORE_HAVE_AVX2
void run_avx2_maddubs(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_avx2_maddubs()); }
void run_avx2_madd16(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_avx2_madd16()); }
void run_avxvnni(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_avxvnni()); }
#endif
#ifdef DLCORE_HAVE_AVX512
void run_avx512vnni(const GemmS8Args& g) { gemm_s8_blis(g, gemm_s8_kernel_avx512vnni()); }
#endif

std::string maddubs_declines(const GemmS8Args& g) {
  if (!g.b_is_7bit)
    return "weights outside [-64, 63]: vpmaddubsw's int16 pair sums could saturate (2 * 255 * -128 < -32768); "
           "quantize with reduce_range=True or use the exact madd16 entry";
  return "";
}

}  // namespace

bool int8_fits_7bit(const int8_t* b, int64_t n, int64_t k, int64_t ldb) {
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* row = b + j * ldb;
    int lo = 0, hi = 0;
    for (int64_t p = 0; p < k; ++p) {  // vectorized min/max (no early exit)
      lo = std::min<int>(lo, row[p]);
      hi = std::max<int>(hi, row[p]);
    }
    if (lo < -64 || hi > 63) return false;
  }
  return true;
}

const Registry<GemmS8Args>& gemm_u8s8s32_registry() {
  // Fastest first, reference last.
  static const Registry<GemmS8Args> registry(
      "gemm_u8s8s32", {
#ifdef DLCORE_HAVE_AVX512
                          {"gemm_u8s8s32_amx_32x32", Isa::amx, nullptr, run_amx},
                          {"gemm_u8s8s32_avx512vnni_8x32", Isa::avx512_vnni, nullptr, run_avx512vnni},
#endif
#ifdef DLCORE_HAVE_AVX2
                          {"gemm_u8s8s32_avxvnni_6x16", Isa::avx_vnni, nullptr, run_avxvnni},
                          {"gemm_u8s8s32_avx2_maddubs_4x16", Isa::avx2, maddubs_declines, run_avx2_maddubs},
                          {"gemm_u8s8s32_avx2_madd16_6x16", Isa::avx2, nullptr, run_avx2_madd16},
#endif
                          {"gemm_u8s8s32_ref_4x8", Isa::ref, nullptr, run_ref},
                      });
  return registry;
}

void gemm_s8_with_kernel(const GemmS8Args& args, const GemmS8Kernel& kernel) { gemm_s8_blis(args, kernel); }

void gemm_u8s8s32(const GemmS8Args& args, const std::string& backend) {
  select_impl(gemm_u8s8s32_registry(), args, backend).run(args);
}

// ---- Pre-packed weights -----------------------------------------------------

namespace {

// Every kernel a packed buffer may name, with the registry entry that runs it.
struct KernelEntry {
  const GemmS8Kernel& (*kernel)();
  const char* impl_name;
};
const KernelEntry kPackableKernels[] = {
#ifdef DLCORE_HAVE_AVX512
    {gemm_s8_kernel_amx, "gemm_u8s8s32_amx_32x32"},
    {gemm_s8_kernel_avx512vnni, "gemm_u8s8s32_avx512vnni_8x32"},
#endif
#ifdef DLCORE_HAVE_AVX2
    {gemm_s8_kernel_avxvnni, "gemm_u8s8s32_avxvnni_6x16"},
    {gemm_s8_kernel_avx2_maddubs, "gemm_u8s8s32_avx2_maddubs_4x16"},
    {gemm_s8_kernel_avx2_madd16, "gemm_u8s8s32_avx2_madd16_6x16"},
#endif
    {gemm_s8_kernel_ref, "gemm_u8s8s32_ref_4x8"},
};

uint64_t header_sum(const GemmS8PackedHeader& h) {
  return gemm_s8_hash_bytes(&h, int64_t(offsetof(GemmS8PackedHeader, header_sum)), 0x5bd1e995ull);
}

}  // namespace

// FNV-1a over 8-byte words (then the tail bytes): one multiply per word, fast
// enough to hash a layer's weights at pack time and on an explicit check.
uint64_t gemm_s8_hash_bytes(const void* p, int64_t bytes, uint64_t seed) {
  const uint8_t* s = static_cast<const uint8_t*>(p);
  uint64_t h = seed;
  int64_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < bytes; ++i) h = (h ^ s[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

int64_t gemm_s8_packed_bytes(const GemmS8Kernel& kern, int64_t n, int64_t k) {
  const int64_t n_panels = ceil_div(n, kern.nr);
  int64_t panels = 0;
  for (int64_t pc = 0; pc < k; pc += kern.kc)
    panels += n_panels * panel_bytes(kern, std::min<int64_t>(kern.kc, k - pc), kern.nr);
  return kGemmS8PackedHeaderBytes + (n * 4 + 63) / 64 * 64 + panels;
}

void gemm_s8_pack_weights(const GemmS8Kernel& kern, const int8_t* b, int64_t n, int64_t k, int64_t ldb, bool b_is_7bit,
                          uint8_t* out) {
  const int64_t total = gemm_s8_packed_bytes(kern, n, k);
  std::memset(out, 0, size_t(kGemmS8PackedHeaderBytes));
  GemmS8PackedHeader h{};
  h.magic = kGemmS8PackedMagic;
  h.kernel_hash = gemm_s8_hash_bytes(kern.name, int64_t(std::strlen(kern.name)));
  h.n = n;
  h.k = k;
  h.kc = kern.kc;
  h.nr = kern.nr;
  h.flags = b_is_7bit ? 1 : 0;
  uint64_t wh = 1469598103934665603ull;
  for (int64_t j = 0; j < n; ++j) wh = gemm_s8_hash_bytes(b + j * ldb, k, wh);
  h.weights_hash = wh;
  h.header_sum = header_sum(h);
  std::memcpy(out, &h, sizeof h);
  int32_t* colsum = reinterpret_cast<int32_t*>(out + kGemmS8PackedHeaderBytes);
  const int64_t colsum_bytes = (n * 4 + 63) / 64 * 64;
  std::memset(colsum, 0, size_t(colsum_bytes));
  for (int64_t j = 0; j < n; ++j) {
    int32_t s = 0;
    for (int64_t p = 0; p < k; ++p) s += b[j * ldb + p];
    colsum[j] = s;
  }
  uint8_t* panels = out + kGemmS8PackedHeaderBytes + colsum_bytes;
  const int64_t n_panels = ceil_div(n, kern.nr);
  const int64_t full_block = n_panels * panel_bytes(kern, kern.kc, kern.nr);
  for (int64_t pc = 0; pc < k; pc += kern.kc) {
    const int64_t kc = std::min<int64_t>(kern.kc, k - pc), pb = panel_bytes(kern, kc, kern.nr);
    uint8_t* block = panels + (pc / kern.kc) * full_block;
    for (int64_t j = 0; j < n_panels; ++j) {
      const int cols = int(std::min<int64_t>(kern.nr, n - j * kern.nr));
      kern.pack_b(b, ldb, j * kern.nr, cols, pc, kc, k, kern.nr, block + j * pb);
    }
  }
  (void)total;
}

const GemmS8Kernel& gemm_s8_packed_kernel(const uint8_t* packed, int64_t bytes, const char* op) {
  DLCORE_CHECK(bytes >= kGemmS8PackedHeaderBytes, op, ": the packed weights hold ", bytes,
               " bytes, fewer than their header; pack them with gemm_u8s8s32_pack");
  GemmS8PackedHeader h;
  std::memcpy(&h, packed, sizeof h);
  DLCORE_CHECK(h.magic == kGemmS8PackedMagic, op,
               ": not packed int8 weights (bad magic number); pack them with gemm_u8s8s32_pack");
  DLCORE_CHECK(h.header_sum == header_sum(h), op,
               ": the packed weights' header is corrupted (checksum mismatch); repack them");
  for (const auto& e : kPackableKernels) {
    const GemmS8Kernel& kern = e.kernel();
    if (gemm_s8_hash_bytes(kern.name, int64_t(std::strlen(kern.name))) != h.kernel_hash) continue;
    DLCORE_CHECK(h.kc == kern.kc && h.nr == kern.nr, op, ": the weights were packed for ", kern.name, " with KC=", h.kc,
                 ", NR=", h.nr, " but this build blocks it as KC=", kern.kc, ", NR=", kern.nr, "; repack them");
    DLCORE_CHECK(h.n > 0 && h.k > 0 && bytes == gemm_s8_packed_bytes(kern, h.n, h.k), op, ": the packed weights hold ",
                 bytes, " bytes; ", h.n, " x ", h.k, " weights packed for ", kern.name, " take ",
                 h.n > 0 && h.k > 0 ? gemm_s8_packed_bytes(kern, h.n, h.k) : 0, " (truncated?); repack them");
    return kern;
  }
  throw ValueError(cat(op, ": the weights were packed for a kernel this build does not have; repack them here"));
}

const Impl<GemmS8Args>& gemm_s8_impl_of(const GemmS8Kernel& kernel) {
  for (const auto& impl : gemm_u8s8s32_registry().impls())
    if (std::strcmp(impl.name, kernel.name) == 0) return impl;
  throw ValueError(cat("gemm_u8s8s32: no registry entry runs kernel ", kernel.name));
}

void gemm_s8_packed_run(const GemmS8Args& args, const uint8_t* packed, const GemmS8Kernel& kernel) {
  gemm_s8_blis(args, kernel, packed);
}

}  // namespace dlcore
