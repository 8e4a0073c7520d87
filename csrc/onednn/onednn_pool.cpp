// Max and average pooling over oneDNN's pooling primitive, plain NCHW at the
// API, run in oneDNN's channel-blocked layout (nChw8c/nChw16c) inside.
//
// Output sizes follow PyTorch (incl. ceil_mode: a window may not start in the
// right/bottom padding). oneDNN takes them as an explicit right/bottom padding
// large enough for the last window.
//
// Two honest deviations from "oneDNN only", both documented:
//  - max_pool2d_forward's int32 indices (flat h*W+w, first max on ties) are
//    not in oneDNN's workspace, whose layout is implementation-defined; a
//    small post-pass finds, per output, the first window element equal to the
//    maximum oneDNN computed.
//  - avg pooling with count_include_pad and ceil_mode: PyTorch's divisor
//    counts the declared padding but not the extra ceil_mode cells, oneDNN's
//    counts the whole kernel; the edge outputs (forward) or edge gradients
//    (backward) are rescaled by kernel_area / PyTorch_divisor.
// max_pool2d_backward(dy, indices, input_shape) is not defined: it receives no
// window geometry, which oneDNN's pooling backward needs. The oneDNN max-pool
// backward is available as max_pool2d_backward_from_input(dy, x, geometry...),
// which reruns the forward in training mode for oneDNN's workspace.
#include <omp.h>
#include <pybind11/numpy.h>

#include <cmath>

#include "bindings/args.h"
#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/pool/pool.h"

namespace dlcore {
namespace onednn {
namespace {

struct PoolGeometry {
  int64_t n, c, h, w;
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t oh, ow;
  int64_t pad_bottom, pad_right;  // what oneDNN needs for the last window

  std::string key() const {
    return cat(n, ",", c, ",", h, ",", w, ",k", kh, ",", kw, ",s", sh, ",", sw, ",p", ph, ",", pw, ",o", oh, ",", ow);
  }
  memory::desc x_desc() const { return plain_desc({n, c, h, w}); }
  memory::desc y_desc() const { return plain_desc({n, c, oh, ow}); }
  // The layouts the primitive runs in: oneDNN's pooling takes a defined source
  // layout and its plain-NCHW path is a slow reference loop, so it runs in the
  // channel-blocked layout of its JIT kernels (the plan reorders in and out).
  memory::desc x_inner() const { return memory::desc({n, c, h, w}, dt::f32, blocked_tag()); }
  memory::desc y_inner() const { return memory::desc({n, c, oh, ow}, dt::f32, blocked_tag()); }
  static tag blocked_tag() {
    return dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core ? tag::nChw16c : tag::nChw8c;
  }
  // Cells past the declared padding inside the last window (ceil_mode only).
  bool has_extra_padding() const { return pad_bottom > ph || pad_right > pw; }
};

constexpr int64_t kMaxOnednnWindow = int64_t(1) << 20;

// The geometry and every check come from ops/pool/pool.h (make_pool_geom,
// the rule _C and _cuda use too); only oneDNN's explicit bottom/right padding
// is added here.
PoolGeometry pool_geometry(const char* op, const Shape& x, py::handle kernel_size, py::handle stride,
                           py::handle padding, bool ceil_mode) {
  const auto k = args::pair_arg(kernel_size, op, "kernel_size");
  const auto st = stride.is_none() ? k : args::pair_arg(stride, op, "stride");
  const auto p = args::pair_arg(padding, op, "padding");
  const PoolGeom pg = make_pool_geom(op, x, k[0], k[1], st[0], st[1], p[0], p[1], ceil_mode);
  // oneDNN's pooling walks every cell of a window, clipped or not: a window
  // of 2^62 cells ran for hours. Such windows are declined (capability, not
  // validity: _C clips them and runs).
  if (pg.kh * pg.kw > kMaxOnednnWindow)
    throw BackendError(cat(op, ": backend 'onednn' declines a ", pg.kh, " x ", pg.kw, " window (more than ",
                           kMaxOnednnWindow, " cells: oneDNN visits every one)"));
  PoolGeometry g{};
  g.n = pg.n;
  g.c = pg.c;
  g.h = pg.h;
  g.w = pg.w;
  g.kh = pg.kh;
  g.kw = pg.kw;
  g.sh = pg.sh;
  g.sw = pg.sw;
  g.ph = pg.ph;
  g.pw = pg.pw;
  g.oh = pg.oh;
  g.ow = pg.ow;
  g.pad_bottom = std::max(g.ph, (g.oh - 1) * g.sh + g.kh - g.h - g.ph);
  g.pad_right = std::max(g.pw, (g.ow - 1) * g.sw + g.kw - g.w - g.pw);
  return g;
}

dnnl::algorithm avg_algorithm(bool count_include_pad) {
  return count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                           : dnnl::algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_forward::primitive_desc forward_pd(const PoolGeometry& g, dnnl::algorithm a, dnnl::prop_kind prop) {
  return {cpu_engine(), prop,         a,      g.x_inner(),  g.y_inner(),
          {g.sh, g.sw}, {g.kh, g.kw}, {0, 0}, {g.ph, g.pw}, {g.pad_bottom, g.pad_right},
          plan_attr()};
}

std::shared_ptr<const Plan> forward_plan(const char* op, const PoolGeometry& g, dnnl::algorithm a,
                                         dnnl::prop_kind prop) {
  return cached_plan(key_of(op, g.key(), int(a), int(prop)), [&] {
    auto pd = forward_pd(g, a, prop);
    return make_plan<decltype(pd), dnnl::pooling_forward>(
        pd, {{DNNL_ARG_SRC, g.x_desc(), false}, {DNNL_ARG_DST, g.y_desc(), true}});
  });
}

std::shared_ptr<const Plan> backward_plan(const char* op, const PoolGeometry& g, dnnl::algorithm a) {
  return cached_plan(key_of(op, g.key(), int(a)), [&] {
    auto hint = forward_pd(g, a, dnnl::prop_kind::forward_training);
    dnnl::pooling_backward::primitive_desc pd(cpu_engine(), a, g.x_inner(), g.y_inner(), {g.sh, g.sw}, {g.kh, g.kw},
                                              {0, 0}, {g.ph, g.pw}, {g.pad_bottom, g.pad_right}, hint, plan_attr());
    return make_plan<decltype(pd), dnnl::pooling_backward>(
        pd, {{DNNL_ARG_DIFF_DST, g.y_desc(), false}, {DNNL_ARG_DIFF_SRC, g.x_desc(), true}});
  });
}

// Per output: flat index h*W+w of the first window element equal to y (the
// maximum oneDNN computed); NaN maxima match the first NaN.
void max_indices(const PoolGeometry& g, const float* x, const float* y, int32_t* idx, int threads) {
#pragma omp parallel for num_threads(threads)
  for (int64_t plane = 0; plane < g.n * g.c; ++plane) {
    const float* xp = x + plane * g.h * g.w;
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.sh - g.ph, 0), h1 = std::min(oh * g.sh - g.ph + g.kh, g.h);
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t w0 = std::max<int64_t>(ow * g.sw - g.pw, 0), w1 = std::min(ow * g.sw - g.pw + g.kw, g.w);
        const int64_t o = (plane * g.oh + oh) * g.ow + ow;
        const float m = y[o];
        const bool nan = std::isnan(m);
        int64_t found = h0 * g.w + w0;
        for (int64_t h = h0; h < h1; ++h) {
          for (int64_t w = w0; w < w1; ++w) {
            const float v = xp[h * g.w + w];
            if (v == m || (nan && std::isnan(v))) {
              found = h * g.w + w;
              goto done;
            }
          }
        }
      done:
        idx[o] = int32_t(found);
      }
    }
  }
}

// kernel_area / PyTorch divisor along one axis for count_include_pad (1 except
// for windows reaching past the declared padding under ceil_mode).
std::vector<float> include_pad_factor(int64_t out, int64_t in, int64_t k, int64_t s, int64_t p) {
  std::vector<float> f(out);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * s - p, end = std::min(start + k, in + p);
    f[o] = float(k) / float(end - start);
  }
  return f;
}

void rescale_edges(const PoolGeometry& g, float* a) {
  auto fh = include_pad_factor(g.oh, g.h, g.kh, g.sh, g.ph);
  auto fw = include_pad_factor(g.ow, g.w, g.kw, g.sw, g.pw);
  for (int64_t plane = 0; plane < g.n * g.c; ++plane)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const float f = fh[oh] * fw[ow];
        if (f != 1.0f) a[(plane * g.oh + oh) * g.ow + ow] *= f;
      }
}

py::tuple max_forward_entry(py::handle x_obj, py::handle kernel_size, py::handle stride, py::handle padding,
                            bool ceil_mode, const std::string&) {
  const char* op = "max_pool2d_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolGeometry g = pool_geometry(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  FloatArray y = new_f32({g.n, g.c, g.oh, g.ow});
  py::array_t<int32_t> idx(std::vector<py::ssize_t>{g.n, g.c, g.oh, g.ow});
  if (g.n == 0) return py::make_tuple(y, idx);  // empty batch: oneDNN refuses zero-sized dims
  auto plan = forward_plan(op, g, dnnl::algorithm::pooling_max, dnnl::prop_kind::forward_inference);
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run(
        {{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())}, {DNNL_ARG_DST, user_memory(g.y_desc(), y.mutable_data())}});
    max_indices(g, x.data(), y.data(), idx.mutable_data(), threads);
  }
  return py::make_tuple(y, idx);
}

FloatArray max_backward_from_input_entry(py::handle dy_obj, py::handle x_obj, py::handle kernel_size, py::handle stride,
                                         py::handle padding, bool ceil_mode, const std::string&) {
  const char* op = "max_pool2d_backward_from_input";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolGeometry g = pool_geometry(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  const Shape ys{g.n, g.c, g.oh, g.ow};
  check_pool_dy(shape_of(dy), ys, shape_of(x), op);
  FloatArray dx = new_f32(shape_of(x));
  if (g.n == 0) return dx;
  auto fwd =
      forward_plan("max_pool2d_forward_training", g, dnnl::algorithm::pooling_max, dnnl::prop_kind::forward_training);
  auto bwd = backward_plan(op, g, dnnl::algorithm::pooling_max);
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    memory y(g.y_desc(), cpu_engine());
    memory ws(fwd->workspace, cpu_engine());
    fwd->run({{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())}, {DNNL_ARG_DST, y}, {DNNL_ARG_WORKSPACE, ws}});
    bwd->run({{DNNL_ARG_DIFF_DST, user_memory(g.y_desc(), dy.data())},
              {DNNL_ARG_DIFF_SRC, user_memory(g.x_desc(), dx.mutable_data())},
              {DNNL_ARG_WORKSPACE, ws}});
  }
  return dx;
}

FloatArray avg_forward_entry(py::handle x_obj, py::handle kernel_size, py::handle stride, py::handle padding,
                             bool ceil_mode, bool count_include_pad, const std::string&) {
  const char* op = "avg_pool2d_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolGeometry g = pool_geometry(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  FloatArray y = new_f32({g.n, g.c, g.oh, g.ow});
  if (g.n == 0) return y;
  auto plan = forward_plan(op, g, avg_algorithm(count_include_pad), dnnl::prop_kind::forward_inference);
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run(
        {{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())}, {DNNL_ARG_DST, user_memory(g.y_desc(), y.mutable_data())}});
    if (count_include_pad && g.has_extra_padding()) rescale_edges(g, y.mutable_data());
  }
  return y;
}

FloatArray avg_backward_entry(py::handle dy_obj, py::handle input_shape, py::handle kernel_size, py::handle stride,
                              py::handle padding, bool ceil_mode, bool count_include_pad, const std::string&) {
  const char* op = "avg_pool2d_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  Shape xs = args::shape_arg(input_shape, op, "input_shape", 4);
  PoolGeometry g = pool_geometry(op, xs, kernel_size, stride, padding, ceil_mode);
  const Shape ys{g.n, g.c, g.oh, g.ow};
  check_pool_dy(shape_of(dy), ys, xs, op);
  FloatArray dx = new_f32(xs);
  if (g.n == 0) return dx;
  auto plan = backward_plan(op, g, avg_algorithm(count_include_pad));
  const bool rescale = count_include_pad && g.has_extra_padding();
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    std::vector<float> scaled;
    const float* dyp = dy.data();
    if (rescale) {  // the gradient of y = sum / divisor is dy / divisor: pre-scale dy
      scaled.assign(dyp, dyp + dy.size());
      rescale_edges(g, scaled.data());
      dyp = scaled.data();
    }
    plan->run({{DNNL_ARG_DIFF_DST, user_memory(g.y_desc(), dyp)},
               {DNNL_ARG_DIFF_SRC, user_memory(g.x_desc(), dx.mutable_data())}});
  }
  return dx;
}

}  // namespace

void init_pool(py::module_& m) {
  const auto ob = py::arg("backend") = "onednn";
  m.def("max_pool2d_forward", &max_forward_entry, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, ob);
  m.def("max_pool2d_backward_from_input", &max_backward_from_input_entry, py::arg("dy"), py::arg("x"),
        py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        ob,
        "oneDNN's max-pool backward: dx from dy and the forward input x (the forward is rerun in "
        "training mode for oneDNN's workspace). Not part of KERNEL_API: max_pool2d_backward(dy, indices, "
        "input_shape) carries no window geometry, so the onednn backend does not define it.");
  m.def("avg_pool2d_forward", &avg_forward_entry, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, ob);
  m.def("avg_pool2d_backward", &avg_backward_entry, py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, ob);
}

}  // namespace onednn
}  // namespace dlcore
