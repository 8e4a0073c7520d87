"""2-D transposed convolution, composed from the three convolution kernels (no new kernel).

A transposed convolution is the data-gradient of a convolution, so, as in
PyTorch and oneDNN:

* forward  = ``conv2d_backward_data(x, w, output_shape)`` (x plays the conv's dy),
* dx       = ``conv2d_forward(dy, w)``,
* dw       = ``conv2d_backward_weights(conv input = dy, conv dy = x)``,
* db       = dy summed over (N, OH, OW).

The weight layout is PyTorch's ConvTranspose2d one, (C_in, C_out/groups, KH,
KW), which is exactly the conv weight (O, C/groups, KH, KW) of that conv with
O = C_in, C = C_out. float32 runs dlcore.kernels; float64 the einsum references
of ``ops/conv.py``.
"""
from __future__ import annotations

from .. import kernels as K
from ..autograd import Function
from ._common import contiguous, kernel_backend, pair, uses_kernels
from .conv import conv2d_backward_data_ref, conv2d_backward_weights_ref, conv2d_forward_ref, conv_padding


def conv_transpose_output_size(size, kernel, stride, pad, dilation, output_padding):
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


class ConvTranspose2d(Function):
    """x (N, C_in, H, W), weight (C_in, C_out/g, KH, KW), bias (C_out,) -> (N, C_out, OH, OW)."""

    def forward(self, x, weight, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
        output_padding, groups = pair(output_padding, "output_padding"), int(groups)
        _check(x, weight, bias, stride, padding, output_padding, dilation, groups)
        n, cin, h, w = x.shape
        kh, kw = weight.shape[2:]
        cout = weight.shape[1] * groups
        oh = conv_transpose_output_size(h, kh, stride[0], padding[0], dilation[0], output_padding[0])
        ow = conv_transpose_output_size(w, kw, stride[1], padding[1], dilation[1], output_padding[1])
        if oh < 1 or ow < 1:
            raise ValueError(f"conv_transpose2d: output size ({oh}, {ow}) of input {x.shape} is not positive")
        self.out_shape = (n, cout, oh, ow)
        self.params = dict(stride=stride, padding=conv_padding(padding), dilation=dilation, groups=groups)
        self.has_bias, self.kernels = bias is not None, uses_kernels(x, weight, bias)
        if self.kernels:
            self.x, self.weight = contiguous(x), contiguous(weight)
            y = K.conv2d_backward_data(self.x, self.weight, self.out_shape,
                                       backend=kernel_backend("conv2d_backward_data"), **self.params)
        else:
            self.x, self.weight = x, weight
            y = conv2d_backward_data_ref(x, weight, self.out_shape, **self.params)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, dy):
        p, dx, dw, db = self.params, None, None, None
        if self.kernels:
            dy = contiguous(dy)
        if self.needs_input_grad[0]:
            if self.kernels:
                dx = K.conv2d_forward(dy, self.weight, None, backend=kernel_backend("conv2d_forward"), **p)
            else:
                dx = conv2d_forward_ref(dy, self.weight, None, **p)
        if self.needs_input_grad[1]:
            if self.kernels:
                dw, _ = K.conv2d_backward_weights(dy, self.x, self.weight.shape, bias=False,
                                                  backend=kernel_backend("conv2d_backward_weights"), **p)
            else:
                dw, _ = conv2d_backward_weights_ref(dy, self.x, self.weight.shape, bias=False, **p)
        if self.has_bias and self.needs_input_grad[2]:
            db = dy.sum(axis=(0, 2, 3))
        return dx, dw, db


def _check(x, w, bias, stride, padding, output_padding, dilation, groups):
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv_transpose2d expects x (N, C_in, H, W) and weight (C_in, C_out/groups, KH, KW), "
                         f"got {x.shape} and {w.shape}")
    if groups < 1 or x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ValueError(f"conv_transpose2d: input {x.shape} and weight {w.shape} do not match with groups={groups}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"conv_transpose2d: stride {stride} and dilation {dilation} must be >= 1, padding "
                         f"{padding} and output_padding {output_padding} >= 0")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride "
                             f"{stride} or dilation {dilation}")
    if bias is not None and bias.shape != (w.shape[1] * groups,):
        raise ValueError(f"conv_transpose2d: bias shape {bias.shape} != ({w.shape[1] * groups},)")
