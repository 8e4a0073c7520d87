// conv2d forward / backward-data / backward-weights over oneDNN's direct
// convolution. The primitives are created with format_tag::any, so oneDNN
// picks its preferred (usually blocked, e.g. nChw8c) layouts; the plan
// reorders the caller's NCHW/OIHW buffers in and out. Groups map to oneDNN's
// 5-D goihw weights (the same memory as OIHW); dilation d is oneDNN's d - 1.
#include <pybind11/numpy.h>

#include "bindings/args.h"
#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/conv/conv.h"

namespace dlcore {
namespace onednn {
namespace {

struct ConvGeometry {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw;   // weights (O, C/groups, KH, KW)
  int64_t groups;
  int64_t sh, sw, dh, dw;  // stride, dilation (dlcore convention: 1 = dense)
  int64_t pt, pb, pl, pr;  // padding
  int64_t oh, ow;          // output
  // Element types of x/dx, w/dw and y/dy: all f32, or the bf16 column (comparison with
  // dlcore's bf16 kernels): bf16 operands, f32 results (onednn_conv bf16 hooks below).
  dt xt = dt::f32, wt = dt::f32, yt = dt::f32;
  ConvShape shape;  // what make_conv_shape returned (for the shared checks' messages)

  std::string key() const {
    return cat(n, ",", c, ",", h, ",", w, ",", o, ",", kh, ",", kw, ",g", groups, ",s", sh, ",", sw, ",d", dh, ",", dw,
               ",p", pt, ",", pb, ",", pl, ",", pr, ",t", int(xt), int(wt), int(yt));
  }
  static memory::desc typed(const memory::desc& d, dt t) {
    return t == dt::f32 ? d : memory::desc(d.get_dims(), t, d.get_strides());
  }
  memory::desc x_desc() const { return typed(plain_desc({n, c, h, w}), xt); }
  memory::desc y_desc() const { return typed(plain_desc({n, o, oh, ow}), yt); }
  memory::desc w_desc() const {
    if (groups == 1) return typed(plain_desc({o, c, kh, kw}), wt);
    return typed(plain_desc({groups, o / groups, c / groups, kh, kw}), wt);
  }
  memory::desc b_desc() const { return plain_desc({o}); }
  static memory::desc any(const memory::desc& d) { return memory::desc(d.get_dims(), d.get_data_type(), tag::any); }
  // The same geometry with every tensor bf16: the forward hint of the bf16 backward passes.
  ConvGeometry all_bf16() const {
    ConvGeometry h = *this;
    h.xt = h.wt = h.yt = dt::bf16;
    return h;
  }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims pad_l() const { return {pt, pl}; }
  memory::dims pad_r() const { return {pb, pr}; }
};

// The checks and the output size come from ops/conv/conv.h (make_conv_shape,
// the rule _C and _cuda use too); this only copies them into oneDNN's terms.
ConvGeometry conv_geometry(const char* op, const Shape& x, const Shape& w, py::handle stride, py::handle padding,
                           py::handle dilation, int64_t groups) {
  const ConvShape s = make_conv_shape(x, w, args::pair_arg(stride, op, "stride"), args::padding4_arg(padding, op),
                                      args::pair_arg(dilation, op, "dilation"), groups, op);
  ConvGeometry g{};
  g.shape = s;
  g.n = s.n;
  g.c = s.ic;
  g.h = s.ih;
  g.w = s.iw;
  g.o = s.oc;
  g.kh = s.kh;
  g.kw = s.kw;
  g.groups = s.groups;
  g.sh = s.sh;
  g.sw = s.sw;
  g.dh = s.dh;
  g.dw = s.dw;
  g.pt = s.pt;
  g.pb = s.pb;
  g.pl = s.pl;
  g.pr = s.pr;
  g.oh = s.oh;
  g.ow = s.ow;
  return g;
}

dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeometry& g, bool with_bias, dnnl::prop_kind prop) {
  auto any = &ConvGeometry::any;
  if (with_bias)
    return {cpu_engine(),
            prop,
            dnnl::algorithm::convolution_direct,
            any(g.x_desc()),
            any(g.w_desc()),
            any(g.b_desc()),
            any(g.y_desc()),
            g.strides(),
            g.dilates(),
            g.pad_l(),
            g.pad_r(),
            plan_attr()};
  return {cpu_engine(),
          prop,
          dnnl::algorithm::convolution_direct,
          any(g.x_desc()),
          any(g.w_desc()),
          any(g.y_desc()),
          g.strides(),
          g.dilates(),
          g.pad_l(),
          g.pad_r(),
          plan_attr()};
}

// True for a bf16 pair, false for float32; mixed dtypes raise TypeError (as _C).
bool bf16_pair(py::handle a, py::handle b, const char* op, const char* an, const char* bn) {
  const bool a16 = is_bf16_array(a), b16 = is_bf16_array(b);
  DLCORE_CHECK_TYPE(a16 == b16, op, ": ", an, " and ", bn,
                    " must have the same dtype (both float32 or both bfloat16), got ", an, " ", dtype_name(a), " and ",
                    bn, " ", dtype_name(b), "; convert one explicitly");
  return a16;
}

// cached_plan; for bf16 a oneDNN refusal (no bf16 convolution for this CPU) becomes BackendUnavailableError.
std::shared_ptr<const Plan> cached_bf16_aware(const char* op, bool bf16, const std::string& key,
                                              const std::function<Plan()>& make) {
  if (!bf16) return cached_plan(key, make);
  try {
    return cached_plan(key, make);
  } catch (const dnnl::error& e) {
    throw BackendError(cat(op, ": oneDNN has no bf16 convolution for this CPU (", e.what(), ")"));
  }
}

FloatArray forward_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle stride, py::handle padding,
                         py::handle dilation, int64_t groups, const std::string&) {
  const char* op = "conv2d_forward";
  const bool bf16 = bf16_pair(x_obj, w_obj, op, "x", "w");  // bf16 x, w -> f32 y
  py::array x = bf16 ? input_bf16(x_obj, op, "x", 4) : py::array(input_f32(x_obj, op, "x", 4));
  py::array w = bf16 ? input_bf16(w_obj, op, "w", 4) : py::array(input_f32(w_obj, op, "w", 4));
  ConvGeometry g = conv_geometry(op, shape_of(x), shape_of(w), stride, padding, dilation, groups);
  if (bf16) g.xt = g.wt = dt::bf16;
  FloatArray b;
  const bool with_bias = !b_obj.is_none();
  if (with_bias) {
    b = input_f32(b_obj, op, "bias", 1);
    check_conv_bias(shape_of(b), g.shape, shape_of(w), op);
  }
  FloatArray y = new_f32({g.n, g.o, g.oh, g.ow});
  if (g.n == 0) return y;  // empty batch (KERNEL_API): oneDNN refuses zero-sized dims
  auto plan = cached_bf16_aware(op, bf16, key_of(op, g.key(), with_bias), [&] {
    auto pd = forward_pd(g, with_bias, dnnl::prop_kind::forward_inference);
    std::vector<std::tuple<int, memory::desc, bool>> args = {
        {DNNL_ARG_SRC, g.x_desc(), false}, {DNNL_ARG_WEIGHTS, g.w_desc(), false}, {DNNL_ARG_DST, g.y_desc(), true}};
    if (with_bias) args.emplace_back(DNNL_ARG_BIAS, g.b_desc(), false);
    return make_plan<decltype(pd), dnnl::convolution_forward>(pd, args);
  });
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())},
                                          {DNNL_ARG_WEIGHTS, user_memory(g.w_desc(), w.data())},
                                          {DNNL_ARG_DST, user_memory(g.y_desc(), y.mutable_data())}};
  if (with_bias) args[DNNL_ARG_BIAS] = user_memory(g.b_desc(), b.data());
  plan->run(std::move(args));
  return y;
}

FloatArray backward_data_entry(py::handle dy_obj, py::handle w_obj, py::handle input_shape, py::handle stride,
                               py::handle padding, py::handle dilation, int64_t groups, const std::string&) {
  const char* op = "conv2d_backward_data";
  const bool bf16 = bf16_pair(dy_obj, w_obj, op, "dy", "w");  // bf16 dy, w -> f32 dx
  py::array dy = bf16 ? input_bf16(dy_obj, op, "dy", 4) : py::array(input_f32(dy_obj, op, "dy", 4));
  py::array w = bf16 ? input_bf16(w_obj, op, "w", 4) : py::array(input_f32(w_obj, op, "w", 4));
  Shape xs = args::shape_arg(input_shape, op, "input_shape", 4);
  ConvGeometry g = conv_geometry(op, xs, shape_of(w), stride, padding, dilation, groups);
  if (bf16) g.yt = g.wt = dt::bf16;
  check_conv_dy(shape_of(dy), g.shape, op, "input_shape and w");
  FloatArray dx = new_f32(xs);
  if (g.n == 0) return dx;
  auto plan = cached_bf16_aware(op, bf16, key_of(op, g.key()), [&] {
    auto hint = forward_pd(bf16 ? g.all_bf16() : g, false, dnnl::prop_kind::forward_training);
    auto any = &ConvGeometry::any;
    dnnl::convolution_backward_data::primitive_desc pd(cpu_engine(), dnnl::algorithm::convolution_direct,
                                                       any(g.x_desc()), any(g.w_desc()), any(g.y_desc()), g.strides(),
                                                       g.dilates(), g.pad_l(), g.pad_r(), hint, plan_attr());
    return make_plan<decltype(pd), dnnl::convolution_backward_data>(pd, {{DNNL_ARG_DIFF_DST, g.y_desc(), false},
                                                                         {DNNL_ARG_WEIGHTS, g.w_desc(), false},
                                                                         {DNNL_ARG_DIFF_SRC, g.x_desc(), true}});
  });
  const int threads = dlcore_threads();
  py::gil_scoped_release nogil;
  OmpThreads scope(threads);
  reset_last_call();
  plan->run({{DNNL_ARG_DIFF_DST, user_memory(g.y_desc(), dy.data())},
             {DNNL_ARG_WEIGHTS, user_memory(g.w_desc(), w.data())},
             {DNNL_ARG_DIFF_SRC, user_memory(g.x_desc(), dx.mutable_data())}});
  return dx;
}

py::tuple backward_weights_entry(py::handle x_obj, py::handle dy_obj, py::handle weight_shape, py::handle stride,
                                 py::handle padding, py::handle dilation, int64_t groups, bool with_bias,
                                 const std::string&) {
  const char* op = "conv2d_backward_weights";
  const bool bf16 = bf16_pair(x_obj, dy_obj, op, "x", "dy");  // bf16 x, dy -> f32 dw, db
  py::array x = bf16 ? input_bf16(x_obj, op, "x", 4) : py::array(input_f32(x_obj, op, "x", 4));
  py::array dy = bf16 ? input_bf16(dy_obj, op, "dy", 4) : py::array(input_f32(dy_obj, op, "dy", 4));
  Shape ws = args::shape_arg(weight_shape, op, "weight_shape", 4);
  ConvGeometry g = conv_geometry(op, shape_of(x), ws, stride, padding, dilation, groups);
  if (bf16) g.xt = g.yt = dt::bf16;
  check_conv_dy(shape_of(dy), g.shape, op, "x and weight_shape");
  FloatArray dw = new_f32(ws);
  FloatArray db;
  if (with_bias) db = new_f32({g.o});
  if (g.n == 0) {  // no images: the gradients are sums over nothing
    std::fill(dw.mutable_data(), dw.mutable_data() + dw.size(), 0.0f);
    if (with_bias) std::fill(db.mutable_data(), db.mutable_data() + db.size(), 0.0f);
    return py::make_tuple(dw, with_bias ? py::object(db) : py::object(py::none()));
  }
  auto plan = cached_bf16_aware(op, bf16, key_of(op, g.key(), with_bias), [&] {
    auto hint = forward_pd(bf16 ? g.all_bf16() : g, with_bias, dnnl::prop_kind::forward_training);
    auto any = &ConvGeometry::any;
    auto make = [&](const dnnl::convolution_backward_weights::primitive_desc& pd) {
      std::vector<std::tuple<int, memory::desc, bool>> args = {{DNNL_ARG_SRC, g.x_desc(), false},
                                                               {DNNL_ARG_DIFF_DST, g.y_desc(), false},
                                                               {DNNL_ARG_DIFF_WEIGHTS, g.w_desc(), true}};
      if (with_bias) args.emplace_back(DNNL_ARG_DIFF_BIAS, g.b_desc(), true);
      return make_plan<dnnl::convolution_backward_weights::primitive_desc, dnnl::convolution_backward_weights>(pd,
                                                                                                               args);
    };
    if (with_bias)
      return make({cpu_engine(), dnnl::algorithm::convolution_direct, any(g.x_desc()), any(g.w_desc()), any(g.b_desc()),
                   any(g.y_desc()), g.strides(), g.dilates(), g.pad_l(), g.pad_r(), hint, plan_attr()});
    return make({cpu_engine(), dnnl::algorithm::convolution_direct, any(g.x_desc()), any(g.w_desc()), any(g.y_desc()),
                 g.strides(), g.dilates(), g.pad_l(), g.pad_r(), hint, plan_attr()});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())},
                                            {DNNL_ARG_DIFF_DST, user_memory(g.y_desc(), dy.data())},
                                            {DNNL_ARG_DIFF_WEIGHTS, user_memory(g.w_desc(), dw.mutable_data())}};
    if (with_bias) args[DNNL_ARG_DIFF_BIAS] = user_memory(g.b_desc(), db.mutable_data());
    plan->run(std::move(args));
  }
  return py::make_tuple(dw, with_bias ? py::object(db) : py::object(py::none()));
}

}  // namespace

void init_conv(py::module_& m) {
  m.def("conv2d_forward", &forward_entry, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "onednn");
  m.def("conv2d_backward_data", &backward_data_entry, py::arg("dy"), py::arg("w"), py::arg("input_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "onednn");
  m.def("conv2d_backward_weights", &backward_weights_entry, py::arg("x"), py::arg("dy"), py::arg("weight_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("bias") = true, py::arg("backend") = "onednn");
}

}  // namespace onednn
}  // namespace dlcore
