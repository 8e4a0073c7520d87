// One init_<family>(m) per csrc/cuda/bind_<family>.cpp; module.cpp calls each.
// Each entry: checks (GIL held) -> outputs from CuPy's pool -> release the GIL
// -> launch on CuPy's current stream (asynchronous, like any CuPy op).
#pragma once
#include <pybind11/pybind11.h>

namespace dlcore {
namespace cuda {
void init_gemm(pybind11::module_& m);
void init_eltwise(pybind11::module_& m);
void init_softmax(pybind11::module_& m);
void init_dropout(pybind11::module_& m);
void init_norm(pybind11::module_& m);
void init_pool(pybind11::module_& m);
void init_lrn(pybind11::module_& m);
void init_conv(pybind11::module_& m);
}  // namespace cuda
}  // namespace dlcore
