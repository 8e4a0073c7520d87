// Entries of the bf16 convolution (bind_conv_bf16.cpp), called by
// bind_conv.cpp's entries when an operand is bfloat16.
#pragma once
#include <functional>
#include <string>

#include "bindings/array.h"
#include "ops/conv/conv.h"

namespace dlcore {

// (input shape, weight shape) -> the checked geometry (bind_conv.cpp's make_shape).
using MakeConvShape = std::function<ConvShape(const Shape&, const Shape&)>;

FloatArray conv2d_forward_bf16_entry(py::handle x, py::handle w, py::handle bias, const MakeConvShape& make,
                                     const std::string& backend);
FloatArray conv2d_backward_data_bf16_entry(py::handle dy, py::handle w, const Shape& input_shape,
                                           const MakeConvShape& make, const std::string& backend);
py::tuple conv2d_backward_weights_bf16_entry(py::handle x, py::handle dy, const Shape& weight_shape, bool bias,
                                             const MakeConvShape& make, const std::string& backend);

}  // namespace dlcore
