// dlcore._C int8 and binary kernels: gemm_u8s8s32, conv2d_u8s8, binary_pack,
// binary_pack_nchw, binary_gemm, binary_conv2d. Checks here (GIL held) ->
// dispatch -> kernel (GIL released). Integer inputs must already have their
// exact dtype (TypeError otherwise: a float array is never converted).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/init.h"
#include "bindings/typed_array.h"
#include "gemm/gemm_s8.h"
#include "ops/binary/binary.h"
#include "ops/quant/conv_u8s8.h"
#include "ops/quant/peak_lowbit.h"

namespace py = pybind11;

namespace dlcore {
namespace {

// Largest K for which 255 * 128 * K stays below 2^31 (exact int32 sums).
constexpr int64_t kMaxS8K = 65793;

int zero_point_param(int64_t zp, const char* op, const char* name) {
  DLCORE_CHECK(zp >= 0 && zp <= 255, op, ": ", name, " must be in [0, 255] (a uint8 value), got ", zp);
  return int(zp);
}

// Geometry of NCHW input `xs` and OIHW weight `ws`: conv's one check function
// (make_conv_shape: every relation and size overflow-checked) with the shared
// int-or-pair parsing; padding stays symmetric per axis (an int or a pair),
// which is what the int8 and binary kernels take.
ConvShape lowbit_conv_shape(const Shape& xs, const Shape& ws, py::handle stride, py::handle padding,
                            py::handle dilation, int64_t groups, const char* op) {
  const auto pa = args::pair_arg(padding, op, "padding");
  return make_conv_shape(xs, ws, args::pair_arg(stride, op, "stride"), {pa[0], pa[0], pa[1], pa[1]},
                         args::pair_arg(dilation, op, "dilation"), groups, op);
}

py::array_t<int32_t> gemm_u8s8s32_entry(py::handle a_obj, py::handle b_obj, int64_t zp, const std::string& backend) {
  const char* op = "gemm_u8s8s32";
  auto a = input_typed<uint8_t>(a_obj, op, "a", 2);
  auto b = input_typed<int8_t>(b_obj, op, "b", 2);
  DLCORE_CHECK(a.shape(1) == b.shape(1), op, ": a ", shape_str(shape_of(a)), " and b ", shape_str(shape_of(b)),
               " must share K (b is N x K, the layout of a Linear weight)");
  DLCORE_CHECK(a.shape(1) <= kMaxS8K, op, ": K = ", a.shape(1), " exceeds ", kMaxS8K,
               " (int32 sums of 255 * 128 products could overflow)");
  GemmS8Args g;
  g.m = a.shape(0);
  g.n = b.shape(0);
  g.k = a.shape(1);
  g.a = a.data();
  g.lda = g.k;
  g.b = b.data();
  g.ldb = g.k;
  g.a_zero_point = zero_point_param(zp, op, "a_zero_point");
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

py::array_t<int32_t> conv2d_u8s8_entry(py::handle x_obj, py::handle w_obj, int64_t zp, py::handle stride,
                                       py::handle padding, py::handle dilation, int64_t groups,
                                       const std::string& backend) {
  const char* op = "conv2d_u8s8";
  auto x = input_typed<uint8_t>(x_obj, op, "x", 4);
  auto w = input_typed<int8_t>(w_obj, op, "w", 4);
  ConvS8Args a;
  a.s = lowbit_conv_shape(shape_of(x), shape_of(w), stride, padding, dilation, groups, op);
  DLCORE_CHECK(a.s.icg() * a.s.kh * a.s.kw <= kMaxS8K, op, ": a window of ", a.s.icg() * a.s.kh * a.s.kw,
               " taps exceeds ", kMaxS8K, " (int32 sums could overflow)");
  a.x = x.data();
  a.w = w.data();
  a.x_zero_point = zero_point_param(zp, op, "x_zero_point");
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
  const auto& impl = select_impl(binary_pack_registry(), a, backend);
  py::gil_scoped_release nogil;
  impl.run(a);
  return out;
}

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

FloatArray binary_gemm_entry(py::handle x_obj, py::handle w_obj, int64_t k, py::handle scale_obj,
                             py::handle bias_obj, const std::string& backend) {
  const char* op = "binary_gemm";
  auto x = input_typed<uint64_t>(x_obj, op, "x_bits", 2);
  auto w = input_typed<uint64_t>(w_obj, op, "w_bits", 2);
  DLCORE_CHECK(k > 0, op, ": k must be positive, got ", k);
  const int64_t words = (k + 63) / 64;
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
  const int64_t icg = in_channels / groups, wcg = (icg + 63) / 64;
  DLCORE_CHECK(x.shape(3) == groups * wcg, op, ": x_bits ", shape_str(shape_of(x)), " must have ", groups * wcg,
               " words per pixel (", groups, " group(s) of ceil(", icg, "/64)); pack with binary_pack_nchw");
  DLCORE_CHECK(w.shape(3) == wcg, op, ": w_bits ", shape_str(shape_of(w)), " must have ", wcg,
               " words per tap (ceil(", icg, "/64)); layout (OC, KH, KW, words)");
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
  m.def("conv2d_u8s8", &conv2d_u8s8_entry, py::arg("x"), py::arg("w"), py::arg("x_zero_point") = 0,
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("binary_pack", &binary_pack_entry, py::arg("v"), py::arg("backend") = "auto");
  m.def("binary_pack_nchw", &binary_pack_nchw_entry, py::arg("x"), py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("binary_gemm", &binary_gemm_entry, py::arg("x_bits"), py::arg("w_bits"), py::arg("k"),
        py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("backend") = "auto");
  m.def("binary_conv2d", &binary_conv2d_entry, py::arg("x_bits"), py::arg("w_bits"), py::arg("in_channels"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("scale") = py::none(), py::arg("bias") = py::none(), py::arg("backend") = "auto");
  m.def("lowbit_peak_gops", [](const std::string& kind, int threads, int64_t iterations) {
    py::gil_scoped_release nogil;
    return lowbit_peak_gops(kind, threads, iterations);
  }, py::arg("kind"), py::arg("threads"), py::arg("iterations") = 20000000);
  // Implementation names per op, fastest first (for tests and the benchmark).
  m.def("lowbit_impls", [](const std::string& op) {
    py::list out;
    auto add = [&](const auto& reg) {
      for (const auto& impl : reg.impls()) out.append(py::make_tuple(impl.name, isa_name(impl.isa)));
    };
    if (op == "gemm_u8s8s32") add(gemm_u8s8s32_registry());
    else if (op == "conv2d_u8s8") add(conv2d_u8s8_registry());
    else if (op == "binary_gemm") add(binary_gemm_registry());
    else if (op == "binary_conv2d") add(binary_conv2d_registry());
    else if (op == "binary_pack") add(binary_pack_registry());
    else throw ValueError(cat("lowbit_impls: unknown op '", op, "'"));
    return out;
  }, py::arg("op"));
}

}  // namespace dlcore
