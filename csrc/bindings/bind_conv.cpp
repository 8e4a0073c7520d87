// dlcore._C.conv2d_{forward,backward_data,backward_weights}: every check here
// (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>

#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/conv_bf16_call.h"
#include "bindings/init.h"
#include "ops/conv/conv.h"

namespace py = pybind11;

namespace dlcore {

namespace {

int64_t int_param(py::handle obj, const char* op, const char* name) {
  PyObject* index = PyNumber_Index(obj.ptr());
  if (!index) {
    PyErr_Clear();
    throw TypeError(cat(op, ": ", name, " must be an int or a tuple of ints, got ",
                        std::string(py::str(py::type::of(obj).attr("__name__")))));
  }
  int64_t v = py::reinterpret_steal<py::int_>(index).cast<int64_t>();
  return v;
}

// An int, or a sequence of `sizes` (any of them) ints; returns the ints.
std::vector<int64_t> int_tuple_param(py::handle obj, const char* op, const char* name,
                                     std::initializer_list<size_t> sizes) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
    return {int_param(obj, op, name)};
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  bool ok = false;
  for (size_t n : sizes) ok = ok || seq.size() == n;
  std::string expected;
  for (size_t n : sizes) expected += cat(expected.empty() ? "" : " or ", n);
  DLCORE_CHECK(ok, op, ": ", name, " must be an int or a tuple of ", expected, " ints, got ",
               seq.size(), " values");
  std::vector<int64_t> out;
  for (py::handle item : seq) out.push_back(int_param(item, op, name));
  return out;
}

std::array<int64_t, 2> pair_param(py::handle obj, const char* op, const char* name) {
  std::vector<int64_t> v = int_tuple_param(obj, op, name, {2});
  return v.size() == 1 ? std::array<int64_t, 2>{v[0], v[0]} : std::array<int64_t, 2>{v[0], v[1]};
}

// int p, (ph, pw) or (top, bottom, left, right) -> (top, bottom, left, right).
std::array<int64_t, 4> padding_param(py::handle obj, const char* op) {
  std::vector<int64_t> v = int_tuple_param(obj, op, "padding", {2, 4});
  if (v.size() == 1) return {v[0], v[0], v[0], v[0]};
  if (v.size() == 2) return {v[0], v[0], v[1], v[1]};
  return {v[0], v[1], v[2], v[3]};
}

// A 4-int shape argument (input_shape / weight_shape).
Shape shape_param(py::handle obj, const char* op, const char* name) {
  DLCORE_CHECK_TYPE(py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj), op, ": ", name,
                    " must be a tuple of 4 ints, got ",
                    std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  DLCORE_CHECK(seq.size() == 4, op, ": ", name, " must have 4 entries (N, C, H, W), got ", seq.size());
  Shape out;
  for (py::handle item : seq) out.push_back(int_param(item, op, name));
  return out;
}

// The convolution geometry of input `xs` (NCHW) and weight `ws` (OIHW), every
// hyper-parameter and shape relation checked; messages name the shapes.
ConvShape make_shape(const Shape& xs, const Shape& ws, py::handle stride, py::handle padding,
                     py::handle dilation, int64_t groups, const char* op) {
  const auto st = pair_param(stride, op, "stride");
  const auto di = pair_param(dilation, op, "dilation");
  const auto pa = padding_param(padding, op);
  const std::string shapes = cat("input ", shape_str(xs), ", weight ", shape_str(ws));
  DLCORE_CHECK(st[0] >= 1 && st[1] >= 1, op, ": stride must be positive, got (", st[0], ", ", st[1], ")");
  DLCORE_CHECK(di[0] >= 1 && di[1] >= 1, op, ": dilation must be positive, got (", di[0], ", ", di[1], ")");
  DLCORE_CHECK(pa[0] >= 0 && pa[1] >= 0 && pa[2] >= 0 && pa[3] >= 0, op,
               ": padding must be non-negative, got (", pa[0], ", ", pa[1], ", ", pa[2], ", ", pa[3], ")");
  DLCORE_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  DLCORE_CHECK(xs[0] >= 0 && xs[1] > 0 && xs[2] > 0 && xs[3] > 0, op,
               ": input must have non-empty channels and spatial size, got ", shapes);
  DLCORE_CHECK(ws[0] > 0 && ws[1] > 0 && ws[2] > 0 && ws[3] > 0, op, ": weight must not be empty, got ",
               shapes);
  DLCORE_CHECK(xs[1] % groups == 0, op, ": input channels ", xs[1], " are not divisible by groups=",
               groups, " (", shapes, ")");
  DLCORE_CHECK(ws[0] % groups == 0, op, ": output channels ", ws[0], " are not divisible by groups=",
               groups, " (", shapes, ")");
  DLCORE_CHECK(ws[1] * groups == xs[1], op, ": weight has ", ws[1], " input channels per group but input has ",
               xs[1], " channels in ", groups, " group(s) (expected weight.shape[1] == ", xs[1] / groups,
               "; ", shapes, ")");
  ConvShape s;
  s.n = xs[0];
  s.ic = xs[1];
  s.ih = xs[2];
  s.iw = xs[3];
  s.oc = ws[0];
  s.kh = ws[2];
  s.kw = ws[3];
  s.sh = st[0];
  s.sw = st[1];
  s.pt = pa[0];
  s.pb = pa[1];
  s.pl = pa[2];
  s.pr = pa[3];
  s.dh = di[0];
  s.dw = di[1];
  s.groups = groups;
  s.oh = conv_out_size(s.ih, s.kh, s.sh, s.pt, s.pb, s.dh);
  s.ow = conv_out_size(s.iw, s.kw, s.sw, s.pl, s.pr, s.dw);
  DLCORE_CHECK(s.oh > 0 && s.ow > 0, op, ": the kernel (", s.kh, "x", s.kw, ", dilation (", s.dh, ", ", s.dw,
               ") spans ", s.dh * (s.kh - 1) + 1, "x", s.dw * (s.kw - 1) + 1,
               ") is larger than the padded input ", s.ih + s.pt + s.pb, "x", s.iw + s.pl + s.pr, " (",
               shapes, ", padding (", s.pt, ", ", s.pb, ", ", s.pl, ", ", s.pr, "))");
  return s;
}

FloatArray forward_entry(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle stride,
                         py::handle padding, py::handle dilation, int64_t groups, const std::string& backend) {
  const char* op = "conv2d_forward";
  if (is_bf16_array(x_obj) || is_bf16_array(w_obj))  // the bf16 column (bind_conv_bf16.cpp)
    return conv2d_forward_bf16_entry(x_obj, w_obj, bias_obj, [&](const Shape& xs, const Shape& ws) {
      return make_shape(xs, ws, stride, padding, dilation, groups, op);
    }, backend);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  FloatArray w = input_f32(w_obj, op, "w", 4);
  ConvForwardArgs a;
  a.s = make_shape(shape_of(x), shape_of(w), stride, padding, dilation, groups, op);
  FloatArray bias;
  if (!bias_obj.is_none()) {
    bias = input_f32(bias_obj, op, "bias", 1);
    DLCORE_CHECK(bias.shape(0) == a.s.oc, op, ": bias has shape ", shape_str(shape_of(bias)),
                 ", expected (", a.s.oc, ",) for weight ", shape_str(shape_of(w)));
    a.bias = bias.data();
  }
  FloatArray y = new_f32({a.s.n, a.s.oc, a.s.oh, a.s.ow});
  a.x = x.data();
  a.w = w.data();
  a.y = y.mutable_data();
  const auto& impl = conv2d_forward_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

// dy must be exactly the forward output shape of this geometry.
void check_dy(const FloatArray& dy, const ConvShape& s, const char* op, const char* geometry) {
  const Shape expected{s.n, s.oc, s.oh, s.ow};
  DLCORE_CHECK(shape_of(dy) == expected, op, ": dy has shape ", shape_str(shape_of(dy)), " but ", geometry,
               " give an output of shape ", shape_str(expected), " (", s.str(), ")");
}

FloatArray backward_data_entry(py::handle dy_obj, py::handle w_obj, py::handle input_shape, py::handle stride,
                               py::handle padding, py::handle dilation, int64_t groups,
                               const std::string& backend) {
  const char* op = "conv2d_backward_data";
  if (is_bf16_array(dy_obj) || is_bf16_array(w_obj))
    return conv2d_backward_data_bf16_entry(dy_obj, w_obj, shape_param(input_shape, op, "input_shape"),
                                           [&](const Shape& xs, const Shape& ws) {
      return make_shape(xs, ws, stride, padding, dilation, groups, op);
    }, backend);
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  FloatArray w = input_f32(w_obj, op, "w", 4);
  ConvBackwardDataArgs a;
  a.s = make_shape(shape_param(input_shape, op, "input_shape"), shape_of(w), stride, padding, dilation,
                   groups, op);
  check_dy(dy, a.s, op, "input_shape and w");
  FloatArray dx = new_f32({a.s.n, a.s.ic, a.s.ih, a.s.iw});
  a.dy = dy.data();
  a.w = w.data();
  a.dx = dx.mutable_data();
  const auto& impl = conv2d_backward_data_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return dx;
}

py::tuple backward_weights_entry(py::handle x_obj, py::handle dy_obj, py::handle weight_shape, py::handle stride,
                                 py::handle padding, py::handle dilation, int64_t groups, bool bias,
                                 const std::string& backend) {
  const char* op = "conv2d_backward_weights";
  if (is_bf16_array(x_obj) || is_bf16_array(dy_obj))
    return conv2d_backward_weights_bf16_entry(x_obj, dy_obj, shape_param(weight_shape, op, "weight_shape"), bias,
                                              [&](const Shape& xs, const Shape& ws) {
      return make_shape(xs, ws, stride, padding, dilation, groups, op);
    }, backend);
  FloatArray x = input_f32(x_obj, op, "x", 4);
  FloatArray dy = input_f32(dy_obj, op, "dy", 4);
  ConvBackwardWeightsArgs a;
  const Shape ws = shape_param(weight_shape, op, "weight_shape");
  a.s = make_shape(shape_of(x), ws, stride, padding, dilation, groups, op);
  check_dy(dy, a.s, op, "x and weight_shape");
  FloatArray dw = new_f32(ws);
  FloatArray db;
  a.x = x.data();
  a.dy = dy.data();
  a.dw = dw.mutable_data();
  if (bias) {
    db = new_f32({a.s.oc});
    a.db = db.mutable_data();
  }
  const auto& impl = conv2d_backward_weights_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return py::make_tuple(dw, bias ? py::object(db) : py::object(py::none()));
}

}  // namespace

void init_conv(py::module_& m) {
  m.def("conv2d_forward", &forward_entry, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("conv2d_backward_data", &backward_data_entry, py::arg("dy"), py::arg("w"), py::arg("input_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
        py::arg("backend") = "auto");
  m.def("conv2d_backward_weights", &backward_weights_entry, py::arg("x"), py::arg("dy"),
        py::arg("weight_shape"), py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("groups") = 1, py::arg("bias") = true, py::arg("backend") = "auto");
  m.def("_conv_poison_scratch", &conv_poison_scratch,
        "Test hook: fill the calling thread's convolution scratch buffers with NaN");
}

}  // namespace dlcore
