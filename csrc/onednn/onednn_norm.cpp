// Batch normalization over oneDNN's batch_normalization primitive, plain
// NCHW ((N, C) is viewed as (N, C, 1, 1)). weight/bias map to oneDNN's
// use_scale/use_shift flags.
//
// The API speaks (mean, invstd); oneDNN speaks (mean, variance, eps):
//   forward_training returns invstd = 1 / sqrt(variance + eps), computed from
//   oneDNN's biased variance; running stats are updated here (the unbiased
//   variance, var * m / (m - 1) with m = N*H*W, as documented in KERNEL_API);
//   backward passes variance = 1 / invstd^2 with eps = 0, which gives oneDNN
//   exactly the invstd of the forward.
#include <pybind11/numpy.h>

#include <cmath>
#include <optional>

#include "bindings/array.h"
#include "onednn/common.h"
#include "onednn/ops.h"
#include "ops/norm/norm.h"

namespace dlcore {
namespace onednn {
namespace {

using flags = dnnl::normalization_flags;

struct BnView {
  memory::desc x;           // (N, C, H, W) or (N, C, 1, 1)
  memory::desc c;           // (C,)
  int64_t channels, count;  // count = elements per channel
  std::string key;
};

BnView bn_view(const char* op, const FloatArray& x) {
  const Shape xs = shape_of(x);
  int64_t n, c, hw;
  batch_norm_view(xs, &n, &c, &hw, op);
  const int64_t h = xs.size() == 4 ? xs[2] : 1, w = xs.size() == 4 ? xs[3] : 1;
  return {plain_desc({n, c, h, w}), plain_desc({c}), c, n * hw, cat(n, ",", c, ",", h, ",", w)};
}

// An optional per-channel (C,) float32 array; null when None.
using OptArray = std::optional<FloatArray>;

OptArray channel_array(py::handle obj, const char* op, const char* name, int64_t c, bool writeable = false) {
  if (obj.is_none()) return std::nullopt;
  FloatArray a = input_f32(obj, op, name, 1);
  check_batch_norm_channels(shape_of(a), c, op, name);
  if (writeable) DLCORE_CHECK(a.writeable(), op, ": ", name, " is read-only (it is updated in place)");
  return a;
}

flags affine_flags(bool scale, bool shift) {
  flags f = flags::none;
  if (scale) f = f | flags::use_scale;
  if (shift) f = f | flags::use_shift;
  return f;
}

dnnl::batch_normalization_forward::primitive_desc forward_pd(const BnView& v, dnnl::prop_kind prop, float eps,
                                                             flags f) {
  return {cpu_engine(), prop, v.x, v.x, eps, f, plan_attr()};
}

py::tuple training_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj, py::handle rv_obj,
                         float momentum, float eps, const std::string&) {
  const char* op = "batch_norm_forward_training";
  FloatArray x = input_f32(x_obj, op, "x");
  BnView v = bn_view(op, x);
  check_batch_norm_training(shape_of(x), v.count, momentum, !rm_obj.is_none(), !rv_obj.is_none(), op);
  check_batch_norm_eps(eps, op);
  OptArray w = channel_array(w_obj, op, "weight", v.channels);
  OptArray b = channel_array(b_obj, op, "bias", v.channels);
  OptArray rm = channel_array(rm_obj, op, "running_mean", v.channels, true);
  OptArray rv = channel_array(rv_obj, op, "running_var", v.channels, true);
  const bool scale = w.has_value(), shift = b.has_value();
  FloatArray y = new_f32(shape_of(x));
  FloatArray mean = new_f32({v.channels}), invstd = new_f32({v.channels});
  auto plan = cached_plan(key_of(op, v.key, eps, scale, shift), [&] {
    auto pd = forward_pd(v, dnnl::prop_kind::forward_training, eps, affine_flags(scale, shift));
    std::vector<std::tuple<int, memory::desc, bool>> args = {{DNNL_ARG_SRC, v.x, false},
                                                             {DNNL_ARG_DST, v.x, true},
                                                             {DNNL_ARG_MEAN, v.c, true},
                                                             {DNNL_ARG_VARIANCE, v.c, true}};
    if (scale) args.emplace_back(DNNL_ARG_SCALE, v.c, false);
    if (shift) args.emplace_back(DNNL_ARG_SHIFT, v.c, false);
    return make_plan<decltype(pd), dnnl::batch_normalization_forward>(pd, args);
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    float* var = invstd.mutable_data();  // oneDNN writes the variance here; turned into invstd below
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(v.x, x.data())},
                                            {DNNL_ARG_DST, user_memory(v.x, y.mutable_data())},
                                            {DNNL_ARG_MEAN, user_memory(v.c, mean.mutable_data())},
                                            {DNNL_ARG_VARIANCE, user_memory(v.c, var)}};
    if (scale) args[DNNL_ARG_SCALE] = user_memory(v.c, w->data());
    if (shift) args[DNNL_ARG_SHIFT] = user_memory(v.c, b->data());
    plan->run(std::move(args));
    const float* mu = mean.data();
    const double unbias = double(v.count) / double(std::max<int64_t>(v.count - 1, 1));
    for (int64_t c = 0; c < v.channels; ++c) {
      const float biased = var[c];
      if (rm) rm->mutable_data()[c] = (1.0f - momentum) * rm->data()[c] + momentum * mu[c];
      if (rv) rv->mutable_data()[c] = (1.0f - momentum) * rv->data()[c] + momentum * float(biased * unbias);
      var[c] = 1.0f / std::sqrt(biased + eps);
    }
  }
  return py::make_tuple(y, mean, invstd);
}

FloatArray inference_entry(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle rm_obj, py::handle rv_obj,
                           float eps, const std::string&) {
  const char* op = "batch_norm_forward_inference";
  FloatArray x = input_f32(x_obj, op, "x");
  BnView v = bn_view(op, x);
  check_batch_norm_eps(eps, op);
  OptArray w = channel_array(w_obj, op, "weight", v.channels);
  OptArray b = channel_array(b_obj, op, "bias", v.channels);
  DLCORE_CHECK(!rm_obj.is_none() && !rv_obj.is_none(), op, ": running_mean and running_var are required");
  OptArray rm = channel_array(rm_obj, op, "running_mean", v.channels);
  OptArray rv = channel_array(rv_obj, op, "running_var", v.channels);
  check_running_var(rv->data(), v.channels, op);
  const bool scale = w.has_value(), shift = b.has_value();
  FloatArray y = new_f32(shape_of(x));
  auto plan = cached_plan(key_of(op, v.key, eps, scale, shift), [&] {
    auto pd =
        forward_pd(v, dnnl::prop_kind::forward_inference, eps, affine_flags(scale, shift) | flags::use_global_stats);
    std::vector<std::tuple<int, memory::desc, bool>> args = {{DNNL_ARG_SRC, v.x, false},
                                                             {DNNL_ARG_DST, v.x, true},
                                                             {DNNL_ARG_MEAN, v.c, false},
                                                             {DNNL_ARG_VARIANCE, v.c, false}};
    if (scale) args.emplace_back(DNNL_ARG_SCALE, v.c, false);
    if (shift) args.emplace_back(DNNL_ARG_SHIFT, v.c, false);
    return make_plan<decltype(pd), dnnl::batch_normalization_forward>(pd, args);
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(v.x, x.data())},
                                            {DNNL_ARG_DST, user_memory(v.x, y.mutable_data())},
                                            {DNNL_ARG_MEAN, user_memory(v.c, rm->data())},
                                            {DNNL_ARG_VARIANCE, user_memory(v.c, rv->data())}};
    if (scale) args[DNNL_ARG_SCALE] = user_memory(v.c, w->data());
    if (shift) args[DNNL_ARG_SHIFT] = user_memory(v.c, b->data());
    plan->run(std::move(args));
  }
  return y;
}

py::tuple backward_entry(py::handle dy_obj, py::handle x_obj, py::handle w_obj, py::handle mean_obj,
                         py::handle invstd_obj, const std::string&) {
  const char* op = "batch_norm_backward";
  FloatArray dy = input_f32(dy_obj, op, "dy");
  FloatArray x = input_f32(x_obj, op, "x");
  BnView v = bn_view(op, x);
  check_batch_norm_dy(shape_of(dy), shape_of(x), op);
  OptArray w = channel_array(w_obj, op, "weight", v.channels);
  DLCORE_CHECK(!mean_obj.is_none() && !invstd_obj.is_none(), op,
               ": mean and invstd (from the forward pass) are required");
  OptArray mean = channel_array(mean_obj, op, "mean", v.channels);
  OptArray invstd = channel_array(invstd_obj, op, "invstd", v.channels);
  const bool affine = w.has_value();
  FloatArray dx = new_f32(shape_of(x));
  FloatArray dw, db;
  if (affine) {
    dw = new_f32({v.channels});
    db = new_f32({v.channels});
  }
  auto plan = cached_plan(key_of(op, v.key, affine), [&] {
    const flags f = affine_flags(affine, affine);
    auto hint = forward_pd(v, dnnl::prop_kind::forward_training, 0.0f, f);
    dnnl::batch_normalization_backward::primitive_desc pd(
        cpu_engine(), affine ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data, v.x, v.x, v.x, 0.0f, f, hint,
        plan_attr());
    std::vector<std::tuple<int, memory::desc, bool>> args = {{DNNL_ARG_SRC, v.x, false},
                                                             {DNNL_ARG_DIFF_DST, v.x, false},
                                                             {DNNL_ARG_MEAN, v.c, false},
                                                             {DNNL_ARG_VARIANCE, v.c, false},
                                                             {DNNL_ARG_DIFF_SRC, v.x, true}};
    if (affine) {
      args.emplace_back(DNNL_ARG_SCALE, v.c, false);
      args.emplace_back(DNNL_ARG_DIFF_SCALE, v.c, true);
      args.emplace_back(DNNL_ARG_DIFF_SHIFT, v.c, true);
    }
    return make_plan<decltype(pd), dnnl::batch_normalization_backward>(pd, args);
  });
  const int threads = dlcore_threads();
  {
    py::gil_scoped_release nogil;
    OmpThreads scope(threads);
    reset_last_call();
    std::vector<float> var(v.channels);
    for (int64_t c = 0; c < v.channels; ++c) var[c] = 1.0f / (invstd->data()[c] * invstd->data()[c]);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, user_memory(v.x, x.data())},
                                            {DNNL_ARG_DIFF_DST, user_memory(v.x, dy.data())},
                                            {DNNL_ARG_MEAN, user_memory(v.c, mean->data())},
                                            {DNNL_ARG_VARIANCE, user_memory(v.c, var.data())},
                                            {DNNL_ARG_DIFF_SRC, user_memory(v.x, dx.mutable_data())}};
    if (affine) {
      args[DNNL_ARG_SCALE] = user_memory(v.c, w->data());
      args[DNNL_ARG_DIFF_SCALE] = user_memory(v.c, dw.mutable_data());
      args[DNNL_ARG_DIFF_SHIFT] = user_memory(v.c, db.mutable_data());
    }
    plan->run(std::move(args));
  }
  if (!affine) return py::make_tuple(dx, py::none(), py::none());
  return py::make_tuple(dx, dw, db);
}

}  // namespace

void init_norm(py::module_& m) {
  const auto ob = py::arg("backend") = "onednn";
  m.def("batch_norm_forward_training", &training_entry, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(), py::arg("momentum") = 0.1f,
        py::arg("eps") = 1e-5f, ob);
  m.def("batch_norm_forward_inference", &inference_entry, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("running_mean"), py::arg("running_var"), py::arg("eps") = 1e-5f, ob);
  m.def("batch_norm_backward", &backward_entry, py::arg("dy"), py::arg("x"), py::arg("weight"), py::arg("mean"),
        py::arg("invstd"), ob);
}

}  // namespace onednn
}  // namespace dlcore
