// LRN over oneDNN's lrn primitive, plain NCHW (LRN takes a defined source
// layout, so no reorders).
//
// Conventions: for odd sizes oneDNN sums over the centred window
// c - (size-1)/2 .. c + (size-1)/2 and divides alpha by n = size across
// channels, size*size within a channel, like ours; alpha_over_size=False is
// passed as alpha * n. For even sizes oneDNN's window is still the centred
// size-1 elements (measured on 3.2), not `size` elements off-centre by one as
// in Caffe/PyTorch, so even sizes are declined (BackendUnavailableError).
//
// Workspace: oneDNN's backward needs what its forward(training) kept. Our
// API's lrn_backward(dy, x, ...) gets x only, so backward runs the forward in
// training mode first to produce the workspace (one extra forward, counted
// in the timing), then the backward primitive.
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/lrn/lrn.h"

namespace dlcore {
namespace onednn {
namespace {

struct LrnParams {
  int64_t size;
  float alpha, beta, k;
  dnnl::algorithm algo;

  std::string key() const { return cat(size, ",", alpha, ",", beta, ",", k, ",", int(algo)); }
};

// The checks are make_lrn_args (ops/lrn/lrn.h, shared with _C and _cuda);
// what remains here is what oneDNN cannot do (BackendUnavailableError).
LrnParams lrn_params(const char* op, const FloatArray& x, int64_t size, double alpha, double beta, double k,
                     const std::string& region, bool alpha_over_size) {
  const LrnArgs a = make_lrn_args(op, shape_of(x), size, alpha, beta, k, region, alpha_over_size);
  if (size % 2 == 0)
    throw BackendError(cat(op, ": backend 'onednn' declines even size=", size,
                           ": oneDNN's LRN window then covers size-1 elements, not size"));
  if (a.beta < 0.0f)
    throw BackendError(cat(op, ": backend 'onednn' declines beta=", beta, " < 0 (oneDNN requires beta >= 0)"));
  // A window wider than the data is clipped: an odd size beyond 2 * extent - 1
  // changes nothing but oneDNN's loop bounds, so it is capped there, and
  // alpha passed as (alpha per element) * n, oneDNN dividing it by n.
  const int64_t cap = 2 * (a.max_reach + 1) - 1;
  const int64_t eff = std::min(size, cap);
  const double n = a.across ? double(eff) : double(eff) * double(eff);
  return {eff, float(double(a.scaled_alpha()) * n), a.beta, a.k,
          a.across ? dnnl::algorithm::lrn_across_channels : dnnl::algorithm::lrn_within_channel};
}

dnnl::lrn_forward::primitive_desc forward_pd(const LrnParams& p, const memory::desc& d, dnnl::prop_kind prop) {
  return {cpu_engine(), prop, p.algo, d, d, p.size, p.alpha, p.beta, p.k, plan_attr()};
}

FloatArray forward_entry(py::handle x_obj, int64_t size, double alpha, double beta, double k, const std::string& region,
                         bool alpha_over_size, const std::string&) {
  const char* op = "lrn_forward";
  FloatArray x = input_f32(x_obj, op, "x", 4);
  LrnParams p = lrn_params(op, x, size, alpha, beta, k, region, alpha_over_size);
  const auto d = plain_desc(to_dims(shape_of(x)));
  FloatArray y = new_f32(shape_of(x));
  if (y.size() == 0) return y;  // empty x (KERNEL_API): oneDNN refuses zero-sized dims
  auto plan = cached_plan(key_of(op, shape_str(shape_of(x)), p.key()), [&] {
    auto pd = forward_pd(p, d, dnnl::prop_kind::forward_inference);
    return make_plan<decltype(pd), dnnl::lrn_forward>(pd, {{DNNL_ARG_SRC, d, false}, {DNNL_ARG_DST, d, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    plan->run({{DNNL_ARG_SRC, user_memory(d, x.data())}, {DNNL_ARG_DST, user_memory(d, y.mutable_data())}});
  }
  return y;
}

FloatArray backward_entry(py::handle dy_obj, py::handle x_obj, int64_t size, double alpha, double beta, double k,
                          const std::string& region, bool alpha_over_size, const std::string&) {
  const char* op = "lrn_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  DLCORE_CHECK(shape_of(dy) == shape_of(x), op, ": dy has shape ", shape_str(shape_of(dy)), " but x has shape ",
               shape_str(shape_of(x)));
  LrnParams p = lrn_params(op, x, size, alpha, beta, k, region, alpha_over_size);
  const auto d = plain_desc(to_dims(shape_of(x)));
  FloatArray dx = new_f32(shape_of(x));
  if (dx.size() == 0) return dx;
  const std::string key = cat(shape_str(shape_of(x)), p.key());
  auto fwd = cached_plan(key_of("lrn_forward_training", key), [&] {
    auto pd = forward_pd(p, d, dnnl::prop_kind::forward_training);
    return make_plan<decltype(pd), dnnl::lrn_forward>(pd, {{DNNL_ARG_SRC, d, false}, {DNNL_ARG_DST, d, true}});
  });
  auto bwd = cached_plan(key_of(op, key), [&] {
    auto hint = forward_pd(p, d, dnnl::prop_kind::forward_training);
    dnnl::lrn_backward::primitive_desc pd(cpu_engine(), p.algo, d, d, d, p.size, p.alpha, p.beta, p.k, hint,
                                          plan_attr());
    return make_plan<decltype(pd), dnnl::lrn_backward>(
        pd, {{DNNL_ARG_SRC, d, false}, {DNNL_ARG_DIFF_DST, d, false}, {DNNL_ARG_DIFF_SRC, d, true}});
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    memory y(d, cpu_engine());  // the recomputed forward output (not returned)
    std::unordered_map<int, memory> fwd_args = {{DNNL_ARG_SRC, user_memory(d, x.data())}, {DNNL_ARG_DST, y}};
    std::unordered_map<int, memory> bwd_args = {{DNNL_ARG_SRC, user_memory(d, x.data())},
                                                {DNNL_ARG_DIFF_DST, user_memory(d, dy.data())},
                                                {DNNL_ARG_DIFF_SRC, user_memory(d, dx.mutable_data())}};
    if (fwd->workspace.get_size() > 0) {
      memory ws(fwd->workspace, cpu_engine());
      fwd_args[DNNL_ARG_WORKSPACE] = ws;
      bwd_args[DNNL_ARG_WORKSPACE] = ws;
    }
    fwd->run(std::move(fwd_args));
    bwd->run(std::move(bwd_args));
  }
  return dx;
}

}  // namespace

void init_lrn(py::module_& m) {
  m.def("lrn_forward", &forward_entry, py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4, py::arg("beta") = 0.75,
        py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "onednn");
  m.def("lrn_backward", &backward_entry, py::arg("dy"), py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4,
        py::arg("beta") = 0.75, py::arg("k") = 1.0, py::arg("region") = "across", py::arg("alpha_over_size") = true,
        py::arg("backend") = "onednn");
}

}  // namespace onednn
}  // namespace dlcore
