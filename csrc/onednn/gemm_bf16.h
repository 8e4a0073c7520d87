// oneDNN bf16 matmul (onednn_gemm_bf16.cpp), called by onednn_gemm.cpp's entry for bf16 operands.
#pragma once
#include <pybind11/pybind11.h>

namespace dlcore {
namespace onednn {
pybind11::array gemm_bf16_entry(pybind11::handle a, pybind11::handle b, bool trans_a, bool trans_b, float alpha,
                                float beta, pybind11::handle out, pybind11::handle out_dtype);
}  // namespace onednn
}  // namespace dlcore
