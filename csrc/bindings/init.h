// One init_<family>(m) per bind_<family>.cpp; module.cpp calls each once.
#pragma once
#include <pybind11/pybind11.h>

namespace dlcore {
void init_core(pybind11::module_& m);
void init_gemm(pybind11::module_& m);
void init_eltwise(pybind11::module_& m);
void init_norm(pybind11::module_& m);
void init_softmax(pybind11::module_& m);
void init_stream(pybind11::module_& m);
void init_pool(pybind11::module_& m);
void init_lrn(pybind11::module_& m);
void init_conv(pybind11::module_& m);
void init_dropout(pybind11::module_& m);
void init_lowbit(pybind11::module_& m);
void init_cast(pybind11::module_& m);
void init_optim(pybind11::module_& m);
void init_recurrent(pybind11::module_& m);
}  // namespace dlcore
