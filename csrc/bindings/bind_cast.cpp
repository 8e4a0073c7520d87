// dlcore._C.cast_f32_to_bf16 / cast_bf16_to_f32: checks (GIL held) ->
// dispatch -> kernel (GIL released). Any shape; C-contiguous in, a fresh
// array (or `out`) of the same shape out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array.h"
#include "bindings/bf16_array.h"
#include "bindings/init.h"
#include "core/peak_bf16.h"
#include "dispatch/registry.h"
#include "ops/cast/cast.h"
#include "ops/conv/conv_bf16.h"

namespace py = pybind11;

namespace dlcore {

static py::array to_bf16_entry(py::handle x_obj, py::handle out_obj, const std::string& backend) {
  const char* op = "cast_f32_to_bf16";
  FloatArray x = input_f32(x_obj, op, "x");
  const Shape shape = shape_of(x);
  py::array y = out_obj.is_none() ? new_bf16(shape) : output_bf16(out_obj, op, "out", shape);
  if (!out_obj.is_none()) check_no_alias(y, x, op, "out", "x");
  CastF32ToBf16Args a{x.data(), bf16_mutable_data(y), int64_t(x.size())};
  const auto& impl = cast_f32_to_bf16_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

static py::array to_f32_entry(py::handle x_obj, py::handle out_obj, const std::string& backend) {
  const char* op = "cast_bf16_to_f32";
  py::array x = input_bf16(x_obj, op, "x");
  const Shape shape = shape_of(x);
  FloatArray y = out_obj.is_none() ? new_f32(shape) : output_f32(out_obj, op, "out", shape);
  if (!out_obj.is_none()) check_no_alias(y, x, op, "out", "x");
  CastBf16ToF32Args a{bf16_data(x), y.mutable_data(), int64_t(x.size())};
  const auto& impl = cast_bf16_to_f32_registry().select(a, backend);
  {
    py::gil_scoped_release nogil;
    impl.run(a);
  }
  return y;
}

void init_cast(py::module_& m) {
  m.def("_conv_bf16_set_chunk_bytes", &conv_bf16_set_chunk_bytes, py::arg("nbytes"),
        "Test hook: column-buffer bytes per chunk of images in the bf16 convolution; returns the previous");
  // The bf16 peak probe of the benchmark report (lives here with the other bf16 entries).
  m.def(
      "bf16_peak_gflops",
      [](const std::string& isa, int threads, int64_t iterations) {
        Isa target = Isa::ref;
        DLCORE_CHECK(parse_isa_backend(isa, "bf16_peak_gflops", &target), "bf16_peak_gflops: name an ISA, not 'auto'");
        py::gil_scoped_release nogil;
        return bf16_peak_gflops(target, threads, iterations);
      },
      py::arg("isa"), py::arg("threads"), py::arg("iterations"));
  m.def("cast_f32_to_bf16", &to_bf16_entry, py::arg("x"), py::arg("out") = py::none(), py::arg("backend") = "auto");
  m.def("cast_bf16_to_f32", &to_f32_entry, py::arg("x"), py::arg("out") = py::none(), py::arg("backend") = "auto");
}

}  // namespace dlcore
