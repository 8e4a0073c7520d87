// dlcore._C fused optimizer steps: checks (GIL held) -> dispatch -> kernel
// (GIL released). Each takes lists with one entry per parameter; parameters
// and state buffers are written in place, so they must be float32,
// C-contiguous and writeable already (never silently copied).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "bindings/array.h"
#include "bindings/init.h"
#include "ops/optim/optim.h"

namespace py = pybind11;

namespace dlcore {
namespace {

// The checked arrays (kept alive while the kernel runs) and the argument block.
struct Checked {
  std::vector<FloatArray> keep;
  OptimArgs args;
};

// A state buffer must not share memory with anything else of the call (KERNEL_API): not with its own
// parameter or gradient (checked per entry below), and not with another entry's parameter, gradient or
// state either, which the kernel would then update twice or read half-updated. One sort of every array's
// byte range, then per state the ranges that start inside it and the ones before it that reach into it:
// O(n log n), not a pairwise O(n^2) over a model's hundreds of parameters.
struct Range {
  uintptr_t lo, hi;
  std::string name;
  bool state;
};

void check_states_alone(std::vector<Range> r, const char* op) {
  r.erase(std::remove_if(r.begin(), r.end(), [](const Range& x) { return x.lo == x.hi; }), r.end());
  std::sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  auto fail = [&](const Range& a, const Range& b) {
    throw ValueError(cat(op, ": ", a.state ? a.name : b.name, " shares memory with ", a.state ? b.name : a.name,
                         "; state buffers must not share memory with anything else"));
  };
  size_t reach = r.size();  // the range before i reaching furthest (r.size(): none yet)
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].state) {
      if (reach < r.size() && r[reach].hi > r[i].lo) fail(r[i], r[reach]);
      for (size_t j = i + 1; j < r.size() && r[j].lo < r[i].hi; ++j) fail(r[i], r[j]);
    } else if (reach < r.size() && r[reach].state && r[reach].hi > r[i].lo) {
      fail(r[reach], r[i]);
    }
    if (reach == r.size() || r[i].hi > r[reach].hi) reach = i;
  }
}

// Checks the per-parameter lists and fills args.tensors. `states` names the
// state lists (one or two); all lists must have one entry per parameter.
void check_lists(const char* op, const py::list& params, const py::list& grads,
                 const std::vector<std::pair<const char*, py::list>>& states, Checked* c) {
  const size_t n = params.size();
  DLCORE_CHECK(grads.size() == n, op, ": got ", n, " params but ", grads.size(), " grads");
  for (const auto& s : states)
    DLCORE_CHECK(s.second.size() == n, op, ": got ", n, " params but ", s.second.size(), " ", s.first);
  c->args.tensors.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string pname = cat("params[", i, "]"), gname = cat("grads[", i, "]");
    FloatArray p = input_f32(params[i], op, pname.c_str());
    DLCORE_CHECK(p.writeable(), op, ": ", pname, " is read-only");
    const Shape shape = shape_of(p);
    FloatArray g = input_f32(grads[i], op, gname.c_str());
    DLCORE_CHECK(shape_of(g) == shape, op, ": ", gname, " has shape ", shape_str(shape_of(g)), ", ", pname, " has ",
                 shape_str(shape));
    OptimTensor& t = c->args.tensors[i];
    t.p = p.mutable_data();
    t.g = g.data();
    t.n = p.size();
    for (size_t k = 0; k < states.size(); ++k) {
      const std::string sname = cat(states[k].first, "[", i, "]");
      FloatArray s = output_f32(states[k].second[i], op, sname.c_str(), shape);
      check_no_alias(s, p, op, sname.c_str(), pname.c_str());
      check_no_alias(s, g, op, sname.c_str(), gname.c_str());
      if (k == 1) check_no_alias(s, c->keep.back(), op, sname.c_str(), states[0].first);
      (k == 0 ? t.s1 : t.s2) = s.mutable_data();
      c->keep.push_back(s);
    }
    c->keep.push_back(p);
    c->keep.push_back(g);
  }
  if (states.empty()) return;
  std::vector<Range> ranges;
  auto add = [&ranges](const py::array& a, std::string name, bool state) {
    const auto lo = reinterpret_cast<uintptr_t>(a.data());
    ranges.push_back({lo, lo + uintptr_t(a.nbytes()), std::move(name), state});
  };
  for (size_t i = 0, k = 0; i < n; ++i) {
    for (size_t j = 0; j < states.size(); ++j) add(c->keep[k++], cat(states[j].first, "[", i, "]"), true);
    add(c->keep[k++], cat("params[", i, "]"), false);
    add(c->keep[k++], cat("grads[", i, "]"), false);
  }
  check_states_alone(std::move(ranges), op);
}

// Every named hyper-parameter must be finite and >= 0.
void check_hypers(const char* op, std::initializer_list<std::pair<const char*, float>> hypers) {
  for (const auto& [name, value] : hypers)
    DLCORE_CHECK(std::isfinite(value) && value >= 0.0f, op, ": ", name, " must be finite and >= 0, got ", value);
}

void run(const Checked& c, const std::string& backend) {
  const auto& impl = optim_registry(c.args.kind).select(c.args, backend);
  py::gil_scoped_release nogil;
  impl.run(c.args);
}

void sgd_step(const py::list& params, const py::list& grads, const py::list& momentum_buffers,
              const std::vector<bool>& fresh, float lr, float momentum, float dampening, float weight_decay,
              bool nesterov, float l1, const std::string& backend) {
  const char* op = "sgd_step";
  Checked c;
  c.args.kind = OptimKind::sgd;
  std::vector<std::pair<const char*, py::list>> states;
  if (momentum != 0.0f) states.push_back({"momentum_buffers", momentum_buffers});
  check_lists(op, params, grads, states, &c);
  if (momentum != 0.0f)
    DLCORE_CHECK(fresh.size() == params.size(), op, ": got ", params.size(), " params but ", fresh.size(),
                 " fresh flags");
  for (size_t i = 0; i < c.args.tensors.size() && momentum != 0.0f; ++i) c.args.tensors[i].fresh = fresh[i];
  check_hypers(
      op, {{"lr", lr}, {"momentum", momentum}, {"dampening", dampening}, {"weight_decay", weight_decay}, {"l1", l1}});
  DLCORE_CHECK(!nesterov || (momentum > 0.0f && dampening == 0.0f), op,
               ": nesterov needs momentum > 0 and dampening == 0");
  c.args.lr = lr;
  c.args.momentum = momentum;
  c.args.dampening = dampening;
  c.args.weight_decay = weight_decay;
  c.args.nesterov = nesterov;
  c.args.l1 = l1;
  run(c, backend);
}

void adam_step(const py::list& params, const py::list& grads, const py::list& exp_avgs, const py::list& exp_avg_sqs,
               const std::vector<int64_t>& steps, float lr, float beta1, float beta2, float eps, float weight_decay,
               bool decoupled, float l1, const std::string& backend) {
  const char* op = "adam_step";
  Checked c;
  c.args.kind = OptimKind::adam;
  check_lists(op, params, grads, {{"exp_avgs", exp_avgs}, {"exp_avg_sqs", exp_avg_sqs}}, &c);
  DLCORE_CHECK(steps.size() == params.size(), op, ": got ", params.size(), " params but ", steps.size(),
               " step counts");
  check_hypers(op, {{"lr", lr}, {"eps", eps}, {"weight_decay", weight_decay}, {"l1", l1}});
  DLCORE_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, op, ": betas must be in [0, 1), got (",
               beta1, ", ", beta2, ")");
  for (size_t i = 0; i < steps.size(); ++i) {
    DLCORE_CHECK(steps[i] >= 1, op, ": steps[", i, "] must be >= 1 (the count after this step), got ", steps[i]);
    // bias corrections in double, as PyTorch computes them on the host
    const double bc1 = 1.0 - std::pow(double(beta1), double(steps[i]));
    const double bc2 = 1.0 - std::pow(double(beta2), double(steps[i]));
    c.args.tensors[i].step_size = float(double(lr) / bc1);
    c.args.tensors[i].inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
  }
  c.args.lr = lr;
  c.args.beta1 = beta1;
  c.args.beta2 = beta2;
  c.args.eps = eps;
  c.args.weight_decay = weight_decay;
  c.args.decoupled = decoupled;
  c.args.l1 = l1;
  run(c, backend);
}

void adadelta_step(const py::list& params, const py::list& grads, const py::list& square_avgs,
                   const py::list& acc_deltas, float lr, float rho, float eps, float weight_decay, float l1,
                   const std::string& backend) {
  const char* op = "adadelta_step";
  Checked c;
  c.args.kind = OptimKind::adadelta;
  check_lists(op, params, grads, {{"square_avgs", square_avgs}, {"acc_deltas", acc_deltas}}, &c);
  check_hypers(op, {{"lr", lr}, {"eps", eps}, {"weight_decay", weight_decay}, {"l1", l1}});
  DLCORE_CHECK(rho >= 0.0f && rho <= 1.0f, op, ": rho must be in [0, 1], got ", rho);
  c.args.lr = lr;
  c.args.beta1 = rho;
  c.args.eps = eps;
  c.args.weight_decay = weight_decay;
  c.args.l1 = l1;
  run(c, backend);
}

}  // namespace

void init_optim(py::module_& m) {
  m.def("sgd_step", &sgd_step, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("fresh"),
        py::arg("lr"), py::arg("momentum") = 0.0f, py::arg("dampening") = 0.0f, py::arg("weight_decay") = 0.0f,
        py::arg("nesterov") = false, py::arg("l1") = 0.0f, py::arg("backend") = "auto",
        "In place over all parameters: p -= lr * step, SGD with momentum/Nesterov/weight decay (torch.optim.SGD).");
  m.def("adam_step", &adam_step, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("steps"), py::arg("lr"), py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("eps") = 1e-8f,
        py::arg("weight_decay") = 0.0f, py::arg("decoupled") = false, py::arg("l1") = 0.0f, py::arg("backend") = "auto",
        "In place over all parameters: Adam (decoupled=True: AdamW); steps[i] counts this step.");
  m.def("adadelta_step", &adadelta_step, py::arg("params"), py::arg("grads"), py::arg("square_avgs"),
        py::arg("acc_deltas"), py::arg("lr") = 1.0f, py::arg("rho") = 0.9f, py::arg("eps") = 1e-6f,
        py::arg("weight_decay") = 0.0f, py::arg("l1") = 0.0f, py::arg("backend") = "auto",
        "In place over all parameters: Adadelta (torch.optim.Adadelta).");
}

}  // namespace dlcore
