// The int8 column of dlcore._onednn, for comparison with our own int8 kernels
// (python -m dlcore.bench lowbit): gemm_u8s8s32 over oneDNN's matmul and
// conv2d_u8s8 over its direct convolution, with the signatures, checks
// (bindings/lowbit_call.h) and zero-point semantics of _C's entries:
//   C = (A - a_zero_point) B^T          A u8 (M x K), B s8 (N x K), C s32
//   y = sum (x - x_zero_point) * w      taps outside the image contribute 0
// The zero point is oneDNN's runtime source zero point (attr mask 0); oneDNN
// defines padded taps of a convolution with a source zero point as
// contributing 0 too (its compensation covers the padding).
//
// What oneDNN guarantees: on a CPU without VNNI (AVX2, AVX-512 core) its int8
// kernels multiply with vpmaddubsw, whose int16 pair sums saturate when both
// products of a pair are large (255 * -128 * 2 < -32768); its documentation
// ("Nuances of int8 computations") asks for 7-bit weights there. The results
// are exact when every weight lies in [-64, 63], and are not promised to be
// otherwise (measured here: off by up to 28342 with full-range weights). So on
// such a CPU a call whose weights leave [-64, 63] is declined with a
// BackendError, as our own vpmaddubsw entry declines it, instead of returning
// a silently wrong result; with VNNI or AMX every weight is exact.
#include <pybind11/numpy.h>

#include <algorithm>

#include "bindings/lowbit_call.h"
#include "onednn/common.h"
#include "onednn/ops.h"

namespace dlcore {
namespace onednn {
namespace {

// True where oneDNN's int8 kernels multiply through vpmaddubsw's saturating int16 pair sums: the ISAs
// below AVX2-VNNI / AVX-512-VNNI (oneDNN orders its ISA values by capability within the x86 family).
bool int8_pairs_saturate() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41:
    case dnnl_cpu_isa_avx:
    case dnnl_cpu_isa_avx2:
    case dnnl_cpu_isa_avx512_core:
      return true;
    default:
      return false;
  }
}

// Declines (BackendError) weights outside [-64, 63] where int8_pairs_saturate(): oneDNN's result would be wrong.
void decline_saturating_weights(const char* op, const int8_t* w, int64_t count) {
  if (!int8_pairs_saturate()) return;
  if (std::none_of(w, w + count, [](int8_t v) { return v < -64 || v > 63; })) return;
  throw BackendError(cat(op,
                         ": oneDNN's int8 kernels on this CPU (no VNNI) sum u8 x s8 products in saturating "
                         "int16 pairs, so weights outside [-64, 63] give wrong results (oneDNN asks for 7-bit "
                         "weights here); these weights leave that range: use dlcore's own kernels "
                         "(backend='auto') or 7-bit weights"));
}

// Runtime source zero point (one int32 for the tensor), when nonzero.
void add_src_zero_point(dnnl::primitive_attr& attr, bool with_zp) {
  if (with_zp) attr.set_zero_points_mask(DNNL_ARG_SRC, 0);
}

// A oneDNN refusal (no int8 implementation for this problem or CPU) names the op.
std::shared_ptr<const Plan> cached_int8(const char* op, const std::string& key, const std::function<Plan()>& make) {
  try {
    return cached_plan(key, make);
  } catch (const dnnl::error& e) {
    throw BackendError(cat(op, ": oneDNN has no int8 implementation for this problem here (", e.what(), ")"));
  }
}

py::array_t<int32_t> gemm_u8s8s32_entry(py::handle a_obj, py::handle b_obj, int64_t zp, const std::string&) {
  const char* op = "gemm_u8s8s32";
  const GemmU8S8Call call = check_gemm_u8s8s32_call(a_obj, b_obj, zp, op);
  const int64_t m = call.m, n = call.n, k = call.k;
  auto c = new_aligned<int32_t>({m, n});
  if (m == 0 || n == 0) return c;
  int32_t* cp = c.mutable_data();
  if (k == 0) {  // empty sum (oneDNN refuses zero-sized dims)
    std::fill(cp, cp + m * n, 0);
    return c;
  }
  decline_saturating_weights(op, call.b.data(), n * k);
  const bool with_zp = call.zp != 0;
  // A: M x K row-major; B^T: K x N seen through B's (N x K) strides, no copy.
  const memory::desc ad({m, k}, dt::u8, memory::dims{k, 1});
  const memory::desc bd({k, n}, dt::s8, memory::dims{1, k});
  const memory::desc cd({m, n}, dt::s32, memory::dims{n, 1});
  auto plan = cached_int8(op, key_of(op, m, n, k, with_zp), [&] {
    dnnl::primitive_attr attr = plan_attr();
    add_src_zero_point(attr, with_zp);
    dnnl::matmul::primitive_desc pd(cpu_engine(), ad, bd, cd, attr);
    return make_plan<dnnl::matmul::primitive_desc, dnnl::matmul>(
        pd, {{DNNL_ARG_SRC, ad, false}, {DNNL_ARG_WEIGHTS, bd, false}, {DNNL_ARG_DST, cd, true}});
  });
  const uint8_t* ap = call.a.data();
  const int8_t* bp = call.b.data();
  int32_t zp32 = call.zp;
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(ad, ap)},
                                          {DNNL_ARG_WEIGHTS, user_memory(bd, bp)},
                                          {DNNL_ARG_DST, user_memory(cd, cp)}};
  if (with_zp) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = memory({{1}, dt::s32, tag::a}, cpu_engine(), &zp32);
  plan->run(std::move(args));
  return c;
}

py::array_t<int32_t> conv2d_u8s8_entry(py::handle x_obj, py::handle w_obj, int64_t zp, py::handle stride,
                                       py::handle padding, py::handle dilation, int64_t groups, const std::string&) {
  const char* op = "conv2d_u8s8";
  const ConvU8S8Call call = check_conv2d_u8s8_call(x_obj, w_obj, zp, stride, padding, dilation, groups, op);
  const ConvShape& s = call.s;
  auto y = new_aligned<int32_t>({s.n, s.oc, s.oh, s.ow});
  if (s.n == 0) return y;  // empty batch: oneDNN refuses zero-sized dims
  decline_saturating_weights(op, call.w.data(), s.oc * s.icg() * s.kh * s.kw);
  const bool with_zp = call.zp != 0;
  const memory::desc xd({s.n, s.ic, s.ih, s.iw}, dt::u8, tag::nchw);
  const memory::desc yd({s.n, s.oc, s.oh, s.ow}, dt::s32, tag::nchw);
  const memory::desc wd = s.groups == 1 ? memory::desc({s.oc, s.icg(), s.kh, s.kw}, dt::s8, tag::oihw)
                                        : memory::desc({s.groups, s.ocg(), s.icg(), s.kh, s.kw}, dt::s8, tag::goihw);
  const std::string key =
      cat(op, s.n, ",", s.ic, ",", s.ih, ",", s.iw, ",", s.oc, ",", s.kh, ",", s.kw, ",g", s.groups, ",s", s.sh, ",",
          s.sw, ",d", s.dh, ",", s.dw, ",p", s.pt, ",", s.pb, ",", s.pl, ",", s.pr, ",z", with_zp);
  auto plan = cached_int8(op, key_of(key), [&] {
    dnnl::primitive_attr attr = plan_attr();
    add_src_zero_point(attr, with_zp);
    auto any = [](const memory::desc& d) { return memory::desc(d.get_dims(), d.get_data_type(), tag::any); };
    dnnl::convolution_forward::primitive_desc pd(cpu_engine(), dnnl::prop_kind::forward_inference,
                                                 dnnl::algorithm::convolution_direct, any(xd), any(wd), any(yd),
                                                 memory::dims{s.sh, s.sw}, memory::dims{s.dh - 1, s.dw - 1},
                                                 memory::dims{s.pt, s.pl}, memory::dims{s.pb, s.pr}, attr);
    return make_plan<decltype(pd), dnnl::convolution_forward>(
        pd, {{DNNL_ARG_SRC, xd, false}, {DNNL_ARG_WEIGHTS, wd, false}, {DNNL_ARG_DST, yd, true}});
  });
  const uint8_t* xp = call.x.data();
  const int8_t* wp = call.w.data();
  int32_t* yp = y.mutable_data();
  int32_t zp32 = call.zp;
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(xd, xp)},
                                          {DNNL_ARG_WEIGHTS, user_memory(wd, wp)},
                                          {DNNL_ARG_DST, user_memory(yd, yp)}};
  if (with_zp) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = memory({{1}, dt::s32, tag::a}, cpu_engine(), &zp32);
  plan->run(std::move(args));
  return y;
}

}  // namespace

void init_int8(py::module_& m) {
  m.def("gemm_u8s8s32", &gemm_u8s8s32_entry, py::arg("a"), py::arg("b"), py::arg("a_zero_point") = 0,
        py::arg("backend") = "onednn",
        "C = (A - a_zero_point) @ B.T in int32 over oneDNN's u8 x s8 matmul (exact for weights in [-64, 63] "
        "on CPUs without VNNI; see onednn_int8.cpp)");
  m.def("conv2d_u8s8", &conv2d_u8s8_entry, py::arg("x"), py::arg("w"), py::arg("x_zero_point") = 0,
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "onednn",
        "int32 convolution of uint8 NCHW x (zero point x_zero_point) with int8 OIHW w over oneDNN");
}

}  // namespace onednn
}  // namespace dlcore
