// The families of dlcore._onednn; each onednn_<family>.cpp defines its init.
#pragma once
#include <pybind11/pybind11.h>

namespace dlcore {
namespace onednn {
void init_gemm(pybind11::module_& m);
void init_conv(pybind11::module_& m);
void init_eltwise(pybind11::module_& m);
void init_lrn(pybind11::module_& m);
void init_pool(pybind11::module_& m);
void init_norm(pybind11::module_& m);
void init_softmax(pybind11::module_& m);
void init_int8(pybind11::module_& m);
}  // namespace onednn
}  // namespace dlcore
