// dlcore._C int8 and binary kernels: gemm_u8s8s32, conv2d_u8s8, binary_pack,
// binary_pack_nchw, binary_gemm, binary_conv2d. Checks here (GIL held) ->
// dispatch -> kernel (GIL released). Integer inputs must already have their
// exact dtype (TypeError otherwise: a float array is never converted).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cmath>
#include <cstring>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/lowbit_call.h"
#include "bindings/typed_array.h"
#include "gemm/gemm_s8.h"
#include "ops/binary/binary.h"
#include "ops/quant/conv_u8s8.h"
#include "ops/quant/peak_lowbit.h"
#include "ops/quant/quantize.h"

namespace py = pybind11;

namespace dlcore {
namespace {

py::array_t<int32_t> gemm_u8s8s32_entry(py::handle a_obj, py::handle b_obj, int64_t zp, const std::string& backend) {
  const GemmU8S8Call call = check_gemm_u8s8s32_call(a_obj, b_obj, zp, "gemm_u8s8s32");
  GemmS8Args g;
  g.m = call.m;
  g.n = call.n;
  g.k = call.k;
  g.a = call.a.data();
  g.lda = g.k;
  g.b = call.b.data();
  g.ldb = g.k;
  g.a_zero_point = call.zp;
  auto c = new_aligned<int32_t>({g.m, g.n});
  g.c = c.mutable_data();
  g.ldc = g.n;
  {
    py::gil_scoped_release nogil;
    g.b_is_7bit = int8_fits_7bit(g.b, g.n, g.k, g.ldb);
  }
  const auto& impl = select_impl(gemm_u8s8s32_registry(), g, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(g);
  }
  return c;
}

// Packs N x K int8 weights once for the kernel `backend` selects for them
// (the 7-bit scan as in gemm_u8s8s32): a 1-D uint8 buffer (gemm/gemm_s8.h).
py::array_t<uint8_t> gemm_u8s8s32_pack_entry(py::handle b_obj, const std::string& backend) {
  const char* op = "gemm_u8s8s32_pack";
  auto b = input_typed<int8_t>(b_obj, op, "b", 2);
  DLCORE_CHECK(b.shape(0) > 0 && b.shape(1) > 0, op, ": b ", shape_str(shape_of(b)), " must be non-empty");
  DLCORE_CHECK(b.shape(1) <= kMaxS8K, op, ": K = ", b.shape(1), " exceeds ", kMaxS8K,
               " (int32 sums of 255 * 128 products could overflow)");
  GemmS8Args g;
  g.m = 1;
  g.n = b.shape(0);
  g.k = b.shape(1);
  g.b = b.data();
  g.ldb = g.k;
  {
    py::gil_scoped_release nogil;
    g.b_is_7bit = int8_fits_7bit(g.b, g.n, g.k, g.ldb);
  }
  const auto& impl = select_impl(gemm_u8s8s32_registry(), g, backend);
  const GemmS8Kernel* kern = nullptr;
  for (auto get : {gemm_s8_kernel_ref
#ifdef DLCORE_HAVE_AVX2
                   ,
                   gemm_s8_kernel_avx2_maddubs, gemm_s8_kernel_avx2_madd16, gemm_s8_kernel_avxvnni
#endif
#ifdef DLCORE_HAVE_AVX512
                   ,
                   gemm_s8_kernel_avx512vnni, gemm_s8_kernel_amx
#endif
       })
    if (std::string(get().name) == impl.name) kern = &get();
  DLCORE_CHECK(kern != nullptr, op, ": implementation ", impl.name, " has no packable kernel");
  auto out = new_aligned<uint8_t>({gemm_s8_packed_bytes(*kern, g.n, g.k)});
  uint8_t* dst = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    gemm_s8_pack_weights(*kern, g.b, g.n, g.k, g.ldb, g.b_is_7bit, dst);
  }
  return out;
}

const GemmS8Kernel& packed_kernel_of(const py::array_t<uint8_t>& p, const char* op) {
  return gemm_s8_packed_kernel(p.data(), p.shape(0), op);
}

GemmS8PackedHeader packed_header(const py::array_t<uint8_t>& p) {
  GemmS8PackedHeader h;
  std::memcpy(&h, p.data(), sizeof h);
  return h;
}

// C = (A - zp) B^T with B from gemm_u8s8s32_pack. `backend` must name the
// packed kernel's ISA or implementation (or "auto"): the buffer fixes the kernel.
py::array_t<int32_t> gemm_u8s8s32_packed_entry(py::handle a_obj, py::handle p_obj, int64_t zp,
                                               const std::string& backend) {
  const char* op = "gemm_u8s8s32_packed";
  auto a = input_typed<uint8_t>(a_obj, op, "a", 2);
  auto p = input_typed<uint8_t>(p_obj, op, "packed_b", 1);
  const GemmS8Kernel& kern = packed_kernel_of(p, op);
  const GemmS8PackedHeader h = packed_header(p);
  const auto& impl = gemm_s8_impl_of(kern);
  DLCORE_CHECK(a.shape(1) == h.k, op, ": a ", shape_str(shape_of(a)), " has K = ", a.shape(1),
               " but the packed weights are ", h.n, " x ", h.k);
  if (backend != "auto" && backend != impl.name && backend != isa_name(impl.isa))
    throw BackendError(cat(op, ": the weights were packed for ", impl.name, " (", isa_name(impl.isa),
                           "), not for backend '", backend, "'; repack them with that backend"));
  if (!isa_built(impl.isa) || !isa_supported(impl.isa))
    throw BackendError(cat(op, ": the weights were packed for ", impl.name, ", which cannot run here: ",
                           isa_unavailable_reason(impl.isa), "; repack them on this machine"));
  GemmS8Args g;
  g.m = a.shape(0);
  g.n = h.n;
  g.k = h.k;
  g.a = a.data();
  g.lda = g.k;
  g.a_zero_point = zero_point_param(zp, op, "a_zero_point");
  g.b_is_7bit = (h.flags & 1) != 0;
  // The packer ran the registry's checks (maddubs declines unless 7-bit); a
  // buffer claiming maddubs without the 7-bit flag was not made by it.
  const std::string why = impl.declines ? impl.declines(g) : std::string();
  DLCORE_CHECK(why.empty(), op, ": the packed weights do not satisfy ", impl.name, ": ", why, "; repack them");
  auto c = new_aligned<int32_t>({g.m, g.n});
  g.c = c.mutable_data();
  g.ldc = g.n;
  record_dispatch("gemm_u8s8s32", impl.name);
  const uint8_t* pk = p.data();
  {
    py::gil_scoped_release nogil;
    gemm_s8_packed_run(g, pk, kern);
  }
  return c;
}

// (n, k, implementation name, 7-bit) of a packed buffer, after its checks.
py::tuple gemm_u8s8s32_packed_info_entry(py::handle p_obj) {
  const char* op = "gemm_u8s8s32_packed_info";
  auto p = input_typed<uint8_t>(p_obj, op, "packed_b", 1);
  const GemmS8Kernel& kern = packed_kernel_of(p, op);
  const GemmS8PackedHeader h = packed_header(p);
  return py::make_tuple(h.n, h.k, std::string(kern.name), bool(h.flags & 1));
}

// True when `packed_b` holds exactly these weights (their hash): the staleness check.
bool gemm_u8s8s32_packed_matches_entry(py::handle p_obj, py::handle b_obj) {
  const char* op = "gemm_u8s8s32_packed_matches";
  auto p = input_typed<uint8_t>(p_obj, op, "packed_b", 1);
  auto b = input_typed<int8_t>(b_obj, op, "b", 2);
  packed_kernel_of(p, op);
  const GemmS8PackedHeader h = packed_header(p);
  if (b.shape(0) != h.n || b.shape(1) != h.k) return false;
  uint64_t wh = 1469598103934665603ull;
  const int8_t* bp = b.data();
  const int64_t n = h.n, k = h.k;
  {
    py::gil_scoped_release nogil;
    for (int64_t j = 0; j < n; ++j) wh = gemm_s8_hash_bytes(bp + j * k, k, wh);
  }
  return wh == h.weights_hash;
}

// ---- quantize / requantize / dequantize (ops/quant/quantize.h) -------------

py::array_t<uint8_t> quantize_u8_entry(py::handle x_obj, double scale, int64_t zp, const std::string& backend) {
  const char* op = "quantize_u8";
  FloatArray x = input_f32(x_obj, op, "x");
  DLCORE_CHECK(std::isfinite(scale) && scale > 0 && float(scale) > 0, op,
               ": scale must be a positive finite float32, got ", scale);
  QuantizeArgs a;
  a.x = x.data();
  a.size = x.size();
  a.scale = float(scale);
  a.zero_point = zero_point_param(zp, op, "zero_point");
  auto q = new_aligned<uint8_t>(shape_of(x));
  a.q = q.mutable_data();
  const auto& impl = select_impl(quantize_u8_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return q;
}

// acc (int32, ndim >= 2) seen as (outer = dim 0, channels = dim 1, inner = the rest).
RequantizeArgs affine_args(const py::array_t<int32_t, py::array::c_style>& acc, py::handle mult_obj, py::handle off_obj,
                           const char* op, const char* off_name, py::array_t<float>* keep_m,
                           py::array_t<float>* keep_o) {
  DLCORE_CHECK(acc.ndim() >= 2, op, ": acc must be (M, N) or (N, C, H, W) int32, got shape ", shape_str(shape_of(acc)));
  RequantizeArgs a;
  a.acc = acc.data();
  a.outer = acc.shape(0);
  a.channels = acc.shape(1);
  a.inner = 1;
  for (py::ssize_t d = 2; d < acc.ndim(); ++d) a.inner *= acc.shape(d);
  if (acc.size() == 0) a.outer = 0;  // no work: else (outer * channels) empty rows, 2^40 of them for (2^40, 1, 0)
  FloatArray m = input_f32(mult_obj, op, "mult", 1), o = input_f32(off_obj, op, off_name, 1);
  DLCORE_CHECK(m.shape(0) == a.channels && o.shape(0) == a.channels, op, ": mult ", shape_str(shape_of(m)), " and ",
               off_name, " ", shape_str(shape_of(o)), " must have one value per channel (", a.channels, ")");
  a.mult = m.data();
  a.offset = o.data();
  *keep_m = m;
  *keep_o = o;
  return a;
}

py::array_t<uint8_t> requantize_u8_entry(py::handle acc_obj, py::handle mult_obj, py::handle off_obj, int64_t lo,
                                         const std::string& backend) {
  const char* op = "requantize_u8";
  auto acc = input_typed<int32_t>(acc_obj, op, "acc");
  py::array_t<float> km, ko;
  RequantizeArgs a = affine_args(acc, mult_obj, off_obj, op, "offset", &km, &ko);
  a.lo = zero_point_param(lo, op, "lo");
  auto q = new_aligned<uint8_t>(shape_of(acc));
  a.q = q.mutable_data();
  const auto& impl = select_impl(requantize_u8_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return q;
}

FloatArray dequantize_s32_entry(py::handle acc_obj, py::handle mult_obj, py::handle bias_obj, bool relu,
                                const std::string& backend) {
  const char* op = "dequantize_s32";
  auto acc = input_typed<int32_t>(acc_obj, op, "acc");
  py::array_t<float> km, ko;
  RequantizeArgs a = affine_args(acc, mult_obj, bias_obj, op, "bias", &km, &ko);
  a.relu = relu;
  FloatArray y = new_f32(shape_of(acc));
  a.y = y.mutable_data();
  const auto& impl = select_impl(dequantize_s32_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return y;
}

py::array_t<int32_t> conv2d_u8s8_entry(py::handle x_obj, py::handle w_obj, int64_t zp, py::handle stride,
                                       py::handle padding, py::handle dilation, int64_t groups,
                                       const std::string& backend) {
  const ConvU8S8Call call = check_conv2d_u8s8_call(x_obj, w_obj, zp, stride, padding, dilation, groups, "conv2d_u8s8");
  const auto& w = call.w;
  ConvS8Args a;
  a.s = call.s;
  a.x = call.x.data();
  a.w = w.data();
  a.x_zero_point = call.zp;
  auto y = new_aligned<int32_t>({a.s.n, a.s.oc, a.s.oh, a.s.ow});
  a.y = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    a.w_is_7bit = int8_fits_7bit(a.w, 1, w.size(), w.size());
  }
  const auto& impl = select_impl(conv2d_u8s8_registry(), a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

py::array_t<uint64_t> binary_pack_entry(py::handle v_obj, const std::string& backend) {
  FloatArray v = input_f32(v_obj, "binary_pack", "v", 2);
  BinaryPackArgs a;
  a.x = v.data();
  a.rows = v.shape(0);
  a.k = v.shape(1);
  auto out = new_aligned<uint64_t>({a.rows, (a.k + 63) / 64});
  a.out = out.mutable_data();
  const auto& impl = select_impl(binary_pack_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return out;
}

py::array_t<uint64_t> binary_pack_nchw_entry(py::handle x_obj, int64_t groups, const std::string& backend) {
  const char* op = "binary_pack_nchw";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  DLCORE_CHECK(groups >= 1 && x.shape(1) % groups == 0, op, ": channels ", x.shape(1),
               " must be divisible by groups=", groups);
  const int64_t wcg = (x.shape(1) / groups + 63) / 64;
  auto out = new_aligned<uint64_t>({x.shape(0), x.shape(2), x.shape(3), groups * wcg});
  BinaryPackArgs a;
  a.x = x.data();
  a.nchw = true;
  a.n = x.shape(0);
  a.c = x.shape(1);
  a.h = x.shape(2);
  a.w = x.shape(3);
  a.groups = groups;
  a.out = out.mutable_data();
  if (x.size() == 0) return out;  // no work: else N * H rows of W = 0 pixels, 2^40 of them for (2^20, C, 2^20, 0)
  const auto& impl = select_impl(binary_pack_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return out;
}

// 64-bit words holding `bits` bits: ceil(bits / 64) without the overflow of (bits + 63) / 64 near 2^63 (a k or
// in_channels of 2^63 - 1 came out as a negative count in the error message).
int64_t words_for(int64_t bits) { return bits / 64 + (bits % 64 != 0); }

// Bits past `bits` in the last word of each `words`-word row must be 0 (as
// binary_pack leaves them): otherwise XOR would count them.
void check_tail_bits(const uint64_t* p, int64_t rows, int64_t words, int64_t bits, const char* op, const char* name) {
  if (bits % 64 == 0) return;
  const uint64_t dead = ~((uint64_t(1) << (bits % 64)) - 1);
  for (int64_t r = 0; r < rows; ++r)
    DLCORE_CHECK((p[r * words + words - 1] & dead) == 0, op, ": ", name, " has bits set past its ", bits,
                 " valid ones (row ", r, "); pack it with dlcore.kernels.binary_pack / binary_pack_nchw");
}

py::array_t<float> optional_vector(py::handle obj, int64_t n, const char* op, const char* name, const float** ptr) {
  if (obj.is_none()) {
    *ptr = nullptr;
    return py::array_t<float>();
  }
  FloatArray v = input_f32(obj, op, name, 1);
  DLCORE_CHECK(v.shape(0) == n, op, ": ", name, " has shape ", shape_str(shape_of(v)), ", expected (", n, ",)");
  *ptr = v.data();
  return v;
}

FloatArray binary_gemm_entry(py::handle x_obj, py::handle w_obj, int64_t k, py::handle scale_obj, py::handle bias_obj,
                             const std::string& backend) {
  const char* op = "binary_gemm";
  auto x = input_typed<uint64_t>(x_obj, op, "x_bits", 2);
  auto w = input_typed<uint64_t>(w_obj, op, "w_bits", 2);
  DLCORE_CHECK(k > 0, op, ": k must be positive, got ", k);
  const int64_t words = words_for(k);
  DLCORE_CHECK(x.shape(1) == words && w.shape(1) == words, op, ": k = ", k, " needs ", words,
               " words per row, got x_bits ", shape_str(shape_of(x)), " and w_bits ", shape_str(shape_of(w)));
  check_tail_bits(x.data(), x.shape(0), words, k, op, "x_bits");
  check_tail_bits(w.data(), w.shape(0), words, k, op, "w_bits");
  BinaryGemmArgs a;
  a.m = x.shape(0);
  a.n = w.shape(0);
  a.k = k;
  a.words = words;
  a.x = x.data();
  a.w = w.data();
  auto keep_s = optional_vector(scale_obj, a.n, op, "scale", &a.scale);
  auto keep_b = optional_vector(bias_obj, a.n, op, "bias", &a.bias);
  FloatArray y = new_f32({a.m, a.n});
  a.y = y.mutable_data();
  const auto& impl = select_impl(binary_gemm_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return y;
}

FloatArray binary_conv2d_entry(py::handle x_obj, py::handle w_obj, int64_t in_channels, py::handle stride,
                               py::handle padding, py::handle dilation, int64_t groups, py::handle scale_obj,
                               py::handle bias_obj, const std::string& backend) {
  const char* op = "binary_conv2d";
  auto x = input_typed<uint64_t>(x_obj, op, "x_bits", 4);
  auto w = input_typed<uint64_t>(w_obj, op, "w_bits", 4);
  DLCORE_CHECK(groups >= 1 && in_channels > 0 && in_channels % groups == 0, op, ": in_channels ", in_channels,
               " must be positive and divisible by groups=", groups);
  const int64_t icg = in_channels / groups, wcg = words_for(icg);
  DLCORE_CHECK(x.shape(3) == groups * wcg, op, ": x_bits ", shape_str(shape_of(x)), " must have ", groups * wcg,
               " words per pixel (", groups, " group(s) of ceil(", icg, "/64)); pack with binary_pack_nchw");
  DLCORE_CHECK(w.shape(3) == wcg, op, ": w_bits ", shape_str(shape_of(w)), " must have ", wcg, " words per tap (ceil(",
               icg, "/64)); layout (OC, KH, KW, words)");
  const Shape xs{x.shape(0), in_channels, x.shape(1), x.shape(2)};
  const Shape ws{w.shape(0), icg, w.shape(1), w.shape(2)};
  BinaryConvArgs a;
  a.s = lowbit_conv_shape(xs, ws, stride, padding, dilation, groups, op);
  a.wcg = wcg;
  check_tail_bits(x.data(), x.shape(0) * x.shape(1) * x.shape(2) * groups, wcg, icg, op, "x_bits");
  check_tail_bits(w.data(), w.shape(0) * w.shape(1) * w.shape(2), wcg, icg, op, "w_bits");
  a.x = x.data();
  a.w = w.data();
  auto keep_s = optional_vector(scale_obj, a.s.oc, op, "scale", &a.scale);
  auto keep_b = optional_vector(bias_obj, a.s.oc, op, "bias", &a.bias);
  FloatArray y = new_f32({a.s.n, a.s.oc, a.s.oh, a.s.ow});
  a.y = y.mutable_data();
  const auto& impl = select_impl(binary_conv2d_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return y;
}

}  // namespace

void init_lowbit(py::module_& m) {
  m.def("gemm_u8s8s32", &gemm_u8s8s32_entry, py::arg("a"), py::arg("b"), py::arg("a_zero_point") = 0,
        py::arg("backend") = "auto");
  m.def("gemm_u8s8s32_pack", &gemm_u8s8s32_pack_entry, py::arg("b"), py::arg("backend") = "auto");
  m.def("gemm_u8s8s32_packed", &gemm_u8s8s32_packed_entry, py::arg("a"), py::arg("packed_b"),
        py::arg("a_zero_point") = 0, py::arg("backend") = "auto");
  m.def("gemm_u8s8s32_packed_info", &gemm_u8s8s32_packed_info_entry, py::arg("packed_b"));
  m.def("gemm_u8s8s32_packed_matches", &gemm_u8s8s32_packed_matches_entry, py::arg("packed_b"), py::arg("b"));
  m.def("quantize_u8", &quantize_u8_entry, py::arg("x"), py::arg("scale"), py::arg("zero_point"),
        py::arg("backend") = "auto");
  m.def("requantize_u8", &requantize_u8_entry, py::arg("acc"), py::arg("mult"), py::arg("offset"), py::arg("lo") = 0,
        py::arg("backend") = "auto");
  m.def("dequantize_s32", &dequantize_s32_entry, py::arg("acc"), py::arg("mult"), py::arg("bias"),
        py::arg("relu") = false, py::arg("backend") = "auto");
  m.def("conv2d_u8s8", &conv2d_u8s8_entry, py::arg("x"), py::arg("w"), py::arg("x_zero_point") = 0,
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("binary_pack", &binary_pack_entry, py::arg("v"), py::arg("backend") = "auto");
  m.def("binary_pack_nchw", &binary_pack_nchw_entry, py::arg("x"), py::arg("groups") = 1, py::arg("backend") = "auto");
  m.def("binary_gemm", &binary_gemm_entry, py::arg("x_bits"), py::arg("w_bits"), py::arg("k"),
        py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("backend") = "auto");
  m.def("binary_conv2d", &binary_conv2d_entry, py::arg("x_bits"), py::arg("w_bits"), py::arg("in_channels"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("backend") = "auto");
  m.def(
      "lowbit_peak_gops",
      [](const std::string& kind, int threads, int64_t iterations) {
        py::gil_scoped_release nogil;
        return lowbit_peak_gops(kind, threads, iterations);
      },
      py::arg("kind"), py::arg("threads"), py::arg("iterations") = 20000000);
  // Implementation names per op, fastest first (for tests and the benchmark).
  m.def(
      "lowbit_impls",
      [](const std::string& op) {
        py::list out;
        auto add = [&](const auto& reg) {
          for (const auto& impl : reg.impls()) out.append(py::make_tuple(impl.name, isa_name(impl.isa)));
        };
        if (op == "gemm_u8s8s32")
          add(gemm_u8s8s32_registry());
        else if (op == "conv2d_u8s8")
          add(conv2d_u8s8_registry());
        else if (op == "binary_gemm")
          add(binary_gemm_registry());
        else if (op == "binary_conv2d")
          add(binary_conv2d_registry());
        else if (op == "binary_pack")
          add(binary_pack_registry());
        else if (op == "quantize_u8")
          add(quantize_u8_registry());
        else if (op == "requantize_u8")
          add(requantize_u8_registry());
        else if (op == "dequantize_s32")
          add(dequantize_s32_registry());
        else
          throw ValueError(cat("lowbit_impls: unknown op '", op, "'"));
        return out;
      },
      py::arg("op"));
}

}  // namespace dlcore
