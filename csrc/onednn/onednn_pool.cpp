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
#include <pybind11/numpy.h>
#include <omp.h>

#include <cmath>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"

namespace dlcore {
namespace onednn {
namespace {

struct PoolGeometry {
  int64_t n, c, h, w;
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t oh, ow;
  int64_t pad_bottom, pad_right;  // what oneDNN needs for the last window

  std::string key() const {
    return cat(n, ",", c, ",", h, ",", w, ",k", kh, ",", kw, ",s", sh, ",", sw, ",p", ph, ",", pw, ",o", oh, ",",
               ow);
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

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t span = in + 2 * p - k;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;  // last window would start in the padding
  return out;
}

PoolGeometry pool_geometry(const char* op, const Shape& x, py::handle kernel_size, py::handle stride,
                           py::handle padding, bool ceil_mode) {
  DLCORE_CHECK(x.size() == 4, op, ": input must be 4-D (N, C, H, W), got shape ", shape_str(x));
  for (int64_t v : x) DLCORE_CHECK(v > 0, op, ": input shape ", shape_str(x), " is empty");
  PoolGeometry g{};
  g.n = x[0]; g.c = x[1]; g.h = x[2]; g.w = x[3];
  std::tie(g.kh, g.kw) = int_pair(kernel_size, op, "kernel_size");
  if (stride.is_none()) {
    g.sh = g.kh; g.sw = g.kw;
  } else {
    std::tie(g.sh, g.sw) = int_pair(stride, op, "stride");
  }
  std::tie(g.ph, g.pw) = int_pair(padding, op, "padding");
  DLCORE_CHECK(g.kh >= 1 && g.kw >= 1, op, ": kernel_size must be >= 1, got (", g.kh, ", ", g.kw, ")");
  DLCORE_CHECK(g.sh >= 1 && g.sw >= 1, op, ": stride must be >= 1, got (", g.sh, ", ", g.sw, ")");
  DLCORE_CHECK(g.ph >= 0 && g.pw >= 0 && 2 * g.ph <= g.kh && 2 * g.pw <= g.kw, op,
               ": padding must be >= 0 and at most half the kernel, got padding (", g.ph, ", ", g.pw,
               ") for kernel (", g.kh, ", ", g.kw, ")");
  DLCORE_CHECK(g.h + 2 * g.ph >= g.kh && g.w + 2 * g.pw >= g.kw, op, ": kernel (", g.kh, ", ", g.kw,
               ") is larger than the padded input ", shape_str(x), " with padding (", g.ph, ", ", g.pw, ")");
  g.oh = pooled_size(g.h, g.kh, g.sh, g.ph, ceil_mode);
  g.ow = pooled_size(g.w, g.kw, g.sw, g.pw, ceil_mode);
  g.pad_bottom = std::max(g.ph, (g.oh - 1) * g.sh + g.kh - g.h - g.ph);
  g.pad_right = std::max(g.pw, (g.ow - 1) * g.sw + g.kw - g.w - g.pw);
  return g;
}

dnnl::algorithm avg_algorithm(bool count_include_pad) {
  return count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                           : dnnl::algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_forward::primitive_desc forward_pd(const PoolGeometry& g, dnnl::algorithm a, dnnl::prop_kind prop) {
  return {cpu_engine(), prop, a, g.x_inner(), g.y_inner(), {g.sh, g.sw}, {g.kh, g.kw}, {0, 0}, {g.ph, g.pw},
          {g.pad_bottom, g.pad_right}, plan_attr()};
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
    dnnl::pooling_backward::primitive_desc pd(cpu_engine(), a, g.x_inner(), g.y_inner(), {g.sh, g.sw},
                                              {g.kh, g.kw}, {0, 0}, {g.ph, g.pw}, {g.pad_bottom, g.pad_right},
                                              hint, plan_attr());
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
  auto plan = forward_plan(op, g, dnnl::algorithm::pooling_max, dnnl::prop_kind::forward_inference);
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())},
               {DNNL_ARG_DST, user_memory(g.y_desc(), y.mutable_data())}});
    max_indices(g, x.data(), y.data(), idx.mutable_data(), threads);
  }
  return py::make_tuple(y, idx);
}

FloatArray max_backward_from_input_entry(py::handle dy_obj, py::handle x_obj, py::handle kernel_size,
                                         py::handle stride, py::handle padding, bool ceil_mode,
                                         const std::string&) {
  const char* op = "max_pool2d_backward_from_input";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  PoolGeometry g = pool_geometry(op, shape_of(x), kernel_size, stride, padding, ceil_mode);
  const Shape ys{g.n, g.c, g.oh, g.ow};
  DLCORE_CHECK(shape_of(dy) == ys, op, ": dy has shape ", shape_str(shape_of(dy)), ", expected ", shape_str(ys));
  FloatArray dx = new_f32(shape_of(x));
  auto fwd = forward_plan("max_pool2d_forward_training", g, dnnl::algorithm::pooling_max,
                          dnnl::prop_kind::forward_training);
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
  auto plan = forward_plan(op, g, avg_algorithm(count_include_pad), dnnl::prop_kind::forward_inference);
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(g.x_desc(), x.data())},
               {DNNL_ARG_DST, user_memory(g.y_desc(), y.mutable_data())}});
    if (count_include_pad && g.has_extra_padding()) rescale_edges(g, y.mutable_data());
  }
  return y;
}

FloatArray avg_backward_entry(py::handle dy_obj, py::handle input_shape, py::handle kernel_size,
                              py::handle stride, py::handle padding, bool ceil_mode, bool count_include_pad,
                              const std::string&) {
  const char* op = "avg_pool2d_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  Shape xs = int_tuple(input_shape, op, "input_shape", 4);
  PoolGeometry g = pool_geometry(op, xs, kernel_size, stride, padding, ceil_mode);
  const Shape ys{g.n, g.c, g.oh, g.ow};
  DLCORE_CHECK(shape_of(dy) == ys, op, ": dy has shape ", shape_str(shape_of(dy)), " but pooling input ",
               shape_str(xs), " gives ", shape_str(ys));
  FloatArray dx = new_f32(xs);
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
  m.def("max_pool2d_forward", &max_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false, ob);
  m.def("max_pool2d_backward_from_input", &max_backward_from_input_entry, py::arg("dy"), py::arg("x"),
        py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
        py::arg("ceil_mode") = false, ob,
        "oneDNN's max-pool backward: dx from dy and the forward input x (the forward is rerun in "
        "training mode for oneDNN's workspace). Not part of KERNEL_API: max_pool2d_backward(dy, indices, "
        "input_shape) carries no window geometry, so the onednn backend does not define it.");
  m.def("avg_pool2d_forward", &avg_forward_entry, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, ob);
  m.def("avg_pool2d_backward", &avg_backward_entry, py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, ob);
}

}  // namespace onednn
}  // namespace dlcore
