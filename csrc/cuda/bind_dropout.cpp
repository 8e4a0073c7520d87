// dlcore._cuda dropout (Philox mask, identical for a seed on any launch shape)
// and philox4x32_10, the generator itself on the host, for cross-checks.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>

#include "cuda/bind.h"
#include "cuda/device_array.h"
#include "cuda/kernels.h"
#include "cuda/philox.h"

namespace dlcore {
namespace cuda {

static void check_p(float p, const char* op) {
  DLCORE_CHECK(p >= 0.0f && p <= 1.0f, op, ": p must be in [0, 1], got ", p);
}

static py::tuple dropout_forward_entry(py::handle x_obj, float p, uint64_t seed, const std::string&) {
  const char* op = "dropout_forward";
  DeviceArray x = device_input(x_obj, op, "x", DType::F32);
  check_p(p, op);
  cudaStream_t stream = current_stream();
  DeviceArray y = device_empty(x.shape, DType::F32);
  DeviceArray mask = device_empty(x.shape, DType::U8);
  without_gil([&] { dropout_forward(x.f32(), y.f32(), mask.u8(), x.numel(), p, seed, stream); });
  return py::make_tuple(y.obj, mask.obj);
}

static py::object dropout_backward_entry(py::handle dy_obj, py::handle mask_obj, float p, const std::string&) {
  const char* op = "dropout_backward";
  DeviceArray dy = device_input(dy_obj, op, "dy", DType::F32);
  DeviceArray mask = device_input(mask_obj, op, "mask", DType::U8);
  DLCORE_CHECK(dy.shape == mask.shape, op, ": dy has shape ", shape_str(dy.shape), " but mask has shape ",
               shape_str(mask.shape));
  check_p(p, op);
  cudaStream_t stream = current_stream();
  DeviceArray dx = device_empty(dy.shape, DType::F32);
  without_gil([&] { dropout_backward(dy.f32(), mask.u8(), dx.f32(), dy.numel(), p, stream); });
  return dx.obj;
}

void init_dropout(py::module_& m) {
  m.def("dropout_forward", &dropout_forward_entry, py::arg("x"), py::arg("p"), py::arg("seed"),
        py::arg("backend") = "cuda");
  m.def("dropout_backward", &dropout_backward_entry, py::arg("dy"), py::arg("mask"), py::arg("p"),
        py::arg("backend") = "cuda");
  m.def(
      "philox4x32_10",
      [](std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
        const philox::Uint4 r =
            philox::philox4x32<10>({counter[0], counter[1], counter[2], counter[3]}, key[0], key[1]);
        return std::array<uint32_t, 4>{r.x, r.y, r.z, r.w};
      },
      py::arg("counter"), py::arg("key"),
      "Philox-4x32-10 on the host (no GPU needed): the round function behind the dropout mask (which runs "
      "8 rounds), checked against Random123's known answers");
  m.def(
      "dropout_keep_host", [](uint64_t seed, uint64_t index, float p) { return philox::keep(seed, index, p); },
      py::arg("seed"), py::arg("index"), py::arg("p"),
      "Whether dropout keeps element `index` for `seed` (host; same rule as the GPU)");
}

}  // namespace cuda
}  // namespace dlcore
