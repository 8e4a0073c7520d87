// Integer GEMM for int8 inference: C (int32, M x N) = (A - a_zero_point) * B^T
// with A uint8 (M x K, activations with a zero point) and B int8 (N x K, the
// weights of a Linear layer in their natural layout), accumulated exactly in
// int32 (the caller keeps K * 255 * 128 below 2^31: K < 65793).
//
// BLIS layering as the float GEMM (gemm/gemm.cpp): loops over NC / KC / MC
// blocks, packed micro-panels, one register-blocked micro-kernel per ISA.
// The shared dimension is packed in groups of 4 (the unit of vpdpbusd and of
// vpmaddubsw + vpmaddwd), zero-padded to a multiple of 4 and of the tile.
// The zero point is applied once per output as  -a_zero_point * sum_k B[n,k]
// (the column sums of B), so the micro-kernels multiply raw u8 x s8.
#pragma once
#include <cstdint>
#include <string>

#include "dispatch/registry.h"

namespace dlcore {

struct GemmS8Args {
  int64_t m = 0, n = 0, k = 0;
  const uint8_t* a = nullptr;  // M x K, row stride lda
  int64_t lda = 0;
  const int8_t* b = nullptr;  // N x K, row stride ldb
  int64_t ldb = 0;
  int32_t* c = nullptr;  // M x N, row stride ldc
  int64_t ldc = 0;
  int a_zero_point = 0;  // 0..255
  // Set by the entry after scanning B: every weight lies in [-64, 63], so
  // vpmaddubsw's int16 pair sums cannot saturate (2 * 255 * 64 = 32640).
  bool b_is_7bit = false;
  int num_threads = 0;  // 0: dlcore's thread count; 1: the calling thread only
};

// The micro-kernel contract. One "step" multiplies a 4-byte slice of each A
// row (broadcast) with a 4-byte slice of each B column and adds the four
// products into that output's int32 accumulator. A panel: steps x MR x 4
// bytes; B panel: steps x NR x 4 bytes. `accumulate`: C += tile, else C = tile.
using GemmS8UKernel = void (*)(int64_t steps, const void* a, const void* b, int32_t* c, int64_t ldc, bool accumulate);
// Packs rows [row0, row0+rows) x k columns [k0, k0+kc) of A into one MR
// micro-panel (zero rows and zero k beyond the edges).
using GemmS8PackA = void (*)(const uint8_t* a, int64_t lda, int64_t row0, int rows, int64_t k0, int64_t kc, int64_t k,
                             int mr, void* dst);
// Packs rows [col0, col0+cols) of B (= columns of C) x [k0, k0+kc) into one NR micro-panel.
using GemmS8PackB = void (*)(const int8_t* b, int64_t ldb, int64_t col0, int cols, int64_t k0, int64_t kc, int64_t k,
                             int nr, void* dst);

struct GemmS8Kernel {
  const char* name;
  int mr, nr;
  int mc, kc, nc;    // kc: a multiple of 4 (k elements per block)
  int steps_per_k4;  // 1 (u8/s8 quads) or 2 (widened to int16 pairs: two 4-byte steps per 4 k)
  int k_align;       // panels hold k rounded up to this (4; AMX: 64, one tile row of bytes)
  GemmS8UKernel ukernel;
  GemmS8PackA pack_a;
  GemmS8PackB pack_b;
};

const GemmS8Kernel& gemm_s8_kernel_ref();
const GemmS8Kernel& gemm_s8_kernel_avx2_maddubs();
const GemmS8Kernel& gemm_s8_kernel_avx2_madd16();
const GemmS8Kernel& gemm_s8_kernel_avx512vnni();
const GemmS8Kernel& gemm_s8_kernel_avxvnni();
const GemmS8Kernel& gemm_s8_kernel_amx();

const Registry<GemmS8Args>& gemm_u8s8s32_registry();

// parse_isa_backend without throwing: true and *out for an ISA name.
inline bool parse_isa_backend_quiet(const std::string& backend, Isa* out) {
  for (Isa isa : kAllIsas)
    if (backend == isa_name(isa)) {
      *out = isa;
      return true;
    }
  return false;
}

// True when every element of the N x K matrix B lies in [-64, 63].
bool int8_fits_7bit(const int8_t* b, int64_t n, int64_t k, int64_t ldb);

// Selects by backend ("auto", "ref", "avx2", "avx512_vnni", ...) or by an
// implementation's exact name (e.g. "gemm_u8s8s32_avx2_madd16", for tests of
// a second entry of the same ISA), then runs it. Throws BackendError.
void gemm_u8s8s32(const GemmS8Args& args, const std::string& backend = "auto");

// Runs the GEMM with one given kernel (for convolution's entries).
void gemm_s8_with_kernel(const GemmS8Args& args, const GemmS8Kernel& kernel);

// Registry selection for the low-precision ops: an ISA backend name takes the
// first of that ISA's entries that accepts (AVX2 has two int8 GEMMs), and an
// implementation's exact name selects exactly it. Never a fallback to
// another ISA; errors say why.
template <class Args>
const Impl<Args>& select_impl(const Registry<Args>& reg, const Args& args, const std::string& backend) {
  Isa wanted;
  if (backend != "auto" && parse_isa_backend_quiet(backend, &wanted)) {
    std::string declined;
    bool any = false;
    for (const auto& impl : reg.impls()) {
      if (impl.isa != wanted) continue;
      any = true;
      if (!isa_built(wanted) || !isa_supported(wanted))
        throw BackendError(
            cat(reg.op(), ": backend '", backend, "' is not available: ", isa_unavailable_reason(wanted)));
      std::string why = impl.declines ? impl.declines(args) : std::string();
      if (why.empty()) {
        record_dispatch(reg.op(), impl.name);
        if (verbose_enabled()) log_dispatch(reg.op(), impl.name, declined);
        return impl;
      }
      declined += cat(impl.name, " declined: ", why, "; ");
    }
    if (any) throw BackendError(cat(reg.op(), ": backend '", backend, "': ", declined));
  }
  for (const auto& impl : reg.impls()) {
    if (backend != impl.name) continue;
    if (!isa_built(impl.isa) || !isa_supported(impl.isa))
      throw BackendError(cat(reg.op(), ": '", backend, "' cannot run here: ", isa_unavailable_reason(impl.isa)));
    std::string why = impl.declines ? impl.declines(args) : std::string();
    if (!why.empty()) throw BackendError(cat(reg.op(), ": '", backend, "' declines: ", why));
    record_dispatch(reg.op(), impl.name);
    if (verbose_enabled()) log_dispatch(reg.op(), impl.name, "");
    return impl;
  }
  return reg.select(args, backend);
}

// ---- Pre-packed weights (B packed once, at convert time) -------------------
// A quantized layer's weights never change between calls, yet the GEMM above
// packs B on every call: at batch 2 that packing costs as much as the product.
// gemm_s8_pack_weights packs all of B once, into one kernel's micro-panel
// layout, with the column sums of the zero-point compensation, behind a
// header that names the kernel, the shape and a hash of the weights; the
// packed entry refuses a buffer whose header does not check out (wrong
// kernel, shape, ISA absent here, corrupted) instead of computing garbage.
// Layout: header (128 bytes) | colsum int32[n] (padded to 64 bytes) |
// panels: k block p (KC k each, the last shorter) x column panel j (NR
// columns), each panel_bytes(KC_p, NR), p-major.
struct GemmS8PackedHeader {
  uint64_t magic;        // kGemmS8PackedMagic
  uint64_t kernel_hash;  // hash of the kernel's name
  int64_t n, k;
  int64_t kc, nr;         // the kernel's blocking when packed
  uint64_t flags;         // bit 0: every weight in [-64, 63]
  uint64_t weights_hash;  // hash of the N x K weights packed (staleness checks)
  uint64_t header_sum;    // hash of the fields above
};
constexpr uint64_t kGemmS8PackedMagic = 0x3130504B38534C44ull;  // "DLS8KP01"
constexpr int64_t kGemmS8PackedHeaderBytes = 128;

uint64_t gemm_s8_hash_bytes(const void* p, int64_t bytes, uint64_t seed = 1469598103934665603ull);
// Total bytes of B (n x k) packed for `kernel`.
int64_t gemm_s8_packed_bytes(const GemmS8Kernel& kernel, int64_t n, int64_t k);
// Packs the N x K weights `b` for `kernel` into `out` (gemm_s8_packed_bytes of it).
void gemm_s8_pack_weights(const GemmS8Kernel& kernel, const int8_t* b, int64_t n, int64_t k, int64_t ldb,
                          bool b_is_7bit, uint8_t* out);
// The kernel a packed buffer of `bytes` bytes was made for; throws ValueError
// (what is wrong, and "repack") when the header or size does not check out.
const GemmS8Kernel& gemm_s8_packed_kernel(const uint8_t* packed, int64_t bytes, const char* op);
// The registry implementation (name, ISA) that runs `kernel`.
const Impl<GemmS8Args>& gemm_s8_impl_of(const GemmS8Kernel& kernel);
// C = (A - zp) B^T with B pre-packed (args.b unused; args.n, args.k from the header).
void gemm_s8_packed_run(const GemmS8Args& args, const uint8_t* packed, const GemmS8Kernel& kernel);

}  // namespace dlcore
