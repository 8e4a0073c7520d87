// dlcore._C.gemm: checks (GIL held) -> dispatch -> kernel (GIL released).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array.h"
#include "bindings/init.h"
#include "gemm/gemm.h"

namespace py = pybind11;

namespace dlcore {

static FloatArray gemm_entry(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b,
                             float alpha, float beta, py::handle out_obj, const std::string& backend) {
  const char* op = "gemm";
  FloatArray a = input_f32(a_obj, op, "a", 2);
  FloatArray b = input_f32(b_obj, op, "b", 2);
  const int64_t m = trans_a ? a.shape(1) : a.shape(0);
  const int64_t ka = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  const int64_t n = trans_b ? b.shape(0) : b.shape(1);
  DLCORE_CHECK(ka == kb, op, ": inner dimensions differ: op(a) is ", shape_str({m, ka}),
               " and op(b) is ", shape_str({kb, n}), " (a ", shape_str(shape_of(a)),
               ", trans_a=", trans_a, "; b ", shape_str(shape_of(b)), ", trans_b=", trans_b, ")");
  FloatArray c;
  if (out_obj.is_none()) {
    DLCORE_CHECK(beta == 0.0f, op, ": beta=", beta, " needs an out= array holding C");
    c = new_f32({m, n});
  } else {
    c = output_f32(out_obj, op, "out", {m, n});
    check_no_alias(c, a, op, "out", "a");
    check_no_alias(c, b, op, "out", "b");
  }

  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = ka;
  g.a = a.data();
  g.lda = a.shape(1);
  g.trans_a = trans_a;
  g.b = b.data();
  g.ldb = b.shape(1);
  g.trans_b = trans_b;
  g.c = c.mutable_data();
  g.ldc = n;
  g.alpha = alpha;
  g.beta = beta;
  const auto& impl = gemm_registry().select(g, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(g);
  }
  return c;
}

void init_gemm(py::module_& m) {
  m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("out") = py::none(), py::arg("backend") = "auto");
}

}  // namespace dlcore
