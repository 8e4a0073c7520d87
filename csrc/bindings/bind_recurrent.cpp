// dlcore._C fused recurrent layers: checks (GIL held, the family's one shape
// check recurrent_geometry) -> dispatch -> kernel (GIL released).
//   recurrent_forward(gx, w_hh, b_hh, h0, c0, mode, reverse) -> (out, gates or None)
//   recurrent_backward(dout, out, gates, w_hh, h0, c0, mode, reverse) -> (d_gx, d_gh or None, dh0, dc0 or None)
// Shapes and what each holds: ops/recurrent/recurrent.h.
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "bindings/array.h"
#include "bindings/init.h"
#include "ops/recurrent/recurrent.h"

namespace py = pybind11;

namespace dlcore {
namespace {

std::optional<FloatArray> optional_f32(const py::object& obj, const char* op, const char* name) {
  if (obj.is_none()) return std::nullopt;
  return input_f32(obj, op, name);
}

// The arrays every call shares, checked, and the geometry.
struct Common {
  FloatArray w_hh, h0;
  std::optional<FloatArray> b_hh, c0;
  RnnGeometry geo;
};

Common check_common(const char* op, const Shape& gx_shape, const py::object& w_hh, const py::object& b_hh,
                    const py::object& h0, const py::object& c0, const std::string& mode) {
  Common c{input_f32(w_hh, op, "w_hh"),
           input_f32(h0, op, "h0"),
           optional_f32(b_hh, op, "b_hh"),
           optional_f32(c0, op, "c0"),
           {}};
  const Shape b_shape = c.b_hh ? shape_of(*c.b_hh) : Shape{}, c_shape = c.c0 ? shape_of(*c.c0) : Shape{};
  c.geo = recurrent_geometry(op, mode, gx_shape, shape_of(c.w_hh), c.b_hh ? &b_shape : nullptr, shape_of(c.h0),
                             c.c0 ? &c_shape : nullptr);
  return c;
}

void fill_common(const Common& c, bool reverse, RecurrentArgs* a) {
  a->geo = c.geo;
  a->reverse = reverse;
  a->w_hh = c.w_hh.data();
  a->b_hh = c.b_hh ? c.b_hh->data() : nullptr;
  a->h0 = c.h0.data();
  a->c0 = c.c0 ? c.c0->data() : nullptr;
}

py::tuple recurrent_forward(const py::object& gx_obj, const py::object& w_hh, const py::object& b_hh,
                            const py::object& h0, const py::object& c0, const std::string& mode, bool reverse,
                            const std::string& backend) {
  const char* op = "recurrent_forward";
  FloatArray gx = input_f32(gx_obj, op, "gx");
  const Common c = check_common(op, shape_of(gx), w_hh, b_hh, h0, c0, mode);
  const RnnGeometry& g = c.geo;
  FloatArray out = new_f32({g.steps, g.batch, g.out_cols()});
  const int saved = rnn_saved_gates(g.mode);
  std::optional<FloatArray> gates;
  if (saved) gates = new_f32({g.steps, g.batch, saved * g.hidden});
  RecurrentArgs a;
  fill_common(c, reverse, &a);
  a.gx = gx.data();
  a.out = out.mutable_data();
  a.gates = gates ? gates->mutable_data() : nullptr;
  const auto& impl = recurrent_forward_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(out, gates ? py::object(*gates) : py::none());
}

py::tuple recurrent_backward(const py::object& dout_obj, const py::object& out_obj, const py::object& gates_obj,
                             const py::object& w_hh, const py::object& h0, const py::object& c0,
                             const std::string& mode, bool reverse, const std::string& backend) {
  const char* op = "recurrent_backward";
  FloatArray dout = input_f32(dout_obj, op, "dout", 3);
  FloatArray out = input_f32(out_obj, op, "out", 3);
  const Shape os = shape_of(out);
  // out carries the steps and batch; gx's shape follows from it and w_hh.
  const Shape wh = shape_of(input_f32(w_hh, op, "w_hh"));
  const Shape gx_shape{os[0], os[1], wh.size() == 2 ? wh[0] : -1};
  const Common c = check_common(op, gx_shape, w_hh, py::none(), h0, c0, mode);
  const RnnGeometry& g = c.geo;
  const Shape out_shape{g.steps, g.batch, g.out_cols()};
  DLCORE_CHECK(os == out_shape, op, ": out has shape ", shape_str(os), ", expected ", shape_str(out_shape));
  DLCORE_CHECK(shape_of(dout) == out_shape, op, ": dout has shape ", shape_str(shape_of(dout)), ", expected ",
               shape_str(out_shape));
  const int saved = rnn_saved_gates(g.mode);
  std::optional<FloatArray> gates;
  if (saved) {
    DLCORE_CHECK(!gates_obj.is_none(), op, ": ", mode, " needs the gates saved by recurrent_forward");
    gates = input_f32(gates_obj, op, "gates");
    const Shape gs{g.steps, g.batch, saved * g.hidden};
    DLCORE_CHECK(shape_of(*gates) == gs, op, ": gates has shape ", shape_str(shape_of(*gates)), ", expected ",
                 shape_str(gs));
  } else {
    DLCORE_CHECK(gates_obj.is_none(), op, ": ", mode, " saves no gates; pass None");
  }
  const int64_t GH = g.gates * g.hidden;
  FloatArray d_gx = new_f32({g.steps, g.batch, GH});
  std::optional<FloatArray> d_gh, dc0;
  if (g.mode == RnnMode::gru) d_gh = new_f32({g.steps, g.batch, GH});
  FloatArray dh0 = new_f32({g.batch, g.hidden});
  if (g.mode == RnnMode::lstm) dc0 = new_f32({g.batch, g.hidden});
  RecurrentArgs a;
  fill_common(c, reverse, &a);
  a.dout = dout.data();
  a.out_saved = out.data();
  a.gates_saved = gates ? gates->data() : nullptr;
  a.d_gx = d_gx.mutable_data();
  a.d_gh = d_gh ? d_gh->mutable_data() : nullptr;
  a.dh0 = dh0.mutable_data();
  a.dc0 = dc0 ? dc0->mutable_data() : nullptr;
  const auto& impl = recurrent_backward_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(d_gx, d_gh ? py::object(*d_gh) : py::none(), dh0, dc0 ? py::object(*dc0) : py::none());
}

}  // namespace

void init_recurrent(py::module_& m) {
  m.def("recurrent_forward", &recurrent_forward, py::arg("gx"), py::arg("w_hh"), py::arg("b_hh"), py::arg("h0"),
        py::arg("c0"), py::arg("mode"), py::arg("reverse") = false, py::arg("backend") = "auto",
        "One recurrent layer direction over the sequence -> (out, gates or None) (ops/recurrent/recurrent.h).");
  m.def("recurrent_backward", &recurrent_backward, py::arg("dout"), py::arg("out"), py::arg("gates"), py::arg("w_hh"),
        py::arg("h0"), py::arg("c0"), py::arg("mode"), py::arg("reverse") = false, py::arg("backend") = "auto",
        "Backpropagation through time -> (d_gx, d_gh (GRU) or None, dh0, dc0 (LSTM) or None).");
}

}  // namespace dlcore
