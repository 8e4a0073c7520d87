"""2-D convolution (NCHW activations, OIHW weights), forward and both backward passes.

float32 runs on dlcore.kernels. The NumPy formulation (reference for float64) views the padded input as
windows (N, G, C/G, OH, OW, KH, KW) and contracts them with the weights; the
data gradient adds each kernel tap's contribution back with strided slices.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import kernels as K
from ..autograd import Function
from ._common import array_module, as_strided, contiguous, kernel_backend, pair, uses_kernels


def conv_padding(padding):
    """int, (ph, pw) or (top, bottom, left, right) -> (top, bottom, left, right)."""
    if isinstance(padding, (int, np.integer)):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    if len(padding) == 4:
        return padding
    raise ValueError(f"padding must be an int, (ph, pw) or (top, bottom, left, right), got {padding}")


def conv_output_size(x_shape, w_shape, stride, padding, dilation, groups):
    """(OH, OW), with every check, from _C.conv_geometry: the rule the kernels of every backend use
    (csrc/ops/conv/conv.h), not a copy of it."""
    return tuple(_C.conv_geometry(tuple(int(d) for d in x_shape), tuple(int(d) for d in w_shape), stride,
                                  padding, dilation, int(groups)))


def _windows(xpad, kh, kw, stride, dilation, oh, ow):
    """Strided view (N, C, OH, OW, KH, KW) of the padded input; no copy."""
    n, c = xpad.shape[:2]
    s0, s1, s2, s3 = xpad.strides
    (sh, sw), (dh, dw) = stride, dilation
    return as_strided(xpad, (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw))


def conv2d_forward_ref(x, w, bias, stride, padding, dilation, groups):
    xp = array_module(x)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    top, bottom, left, right = padding
    oh, ow = conv_output_size(x.shape, w.shape, stride, padding, dilation, groups)
    xpad = xp.ascontiguousarray(xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))))
    cols = _windows(xpad, kh, kw, stride, dilation, oh, ow).reshape(n, groups, cg, oh, ow, kh, kw)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    y = xp.einsum("ngchwkl,gockl->ngohw", cols, wg, optimize=True).reshape(n, o, oh, ow)
    if bias is not None:
        y = y + bias.reshape(1, o, 1, 1)
    return xp.ascontiguousarray(y)


def conv2d_backward_data_ref(dy, w, input_shape, stride, padding, dilation, groups):
    xp = array_module(dy)
    n, c, h, wd = input_shape
    o, cg, kh, kw = w.shape
    top, bottom, left, right = padding
    _, _, oh, ow = dy.shape
    dyg = dy.reshape(n, groups, o // groups, oh, ow)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    dcols = xp.einsum("ngohw,gockl->ngckl" + "hw", dyg, wg, optimize=True)  # (N, G, C/G, KH, KW, OH, OW)
    dxpad = xp.zeros((n, groups, cg, h + top + bottom, wd + left + right), dtype=dy.dtype)
    (sh, sw), (dh, dw) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            dxpad[..., i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw] += dcols[:, :, :, i, j]
    dx = dxpad[..., top: top + h, left: left + wd].reshape(n, c, h, wd)
    return xp.ascontiguousarray(dx)


def conv2d_backward_weights_ref(x, dy, weight_shape, stride, padding, dilation, groups, bias):
    xp = array_module(x)
    n, c, h, wd = x.shape
    o, cg, kh, kw = weight_shape
    top, bottom, left, right = padding
    _, _, oh, ow = dy.shape
    xpad = xp.ascontiguousarray(xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))))
    cols = _windows(xpad, kh, kw, stride, dilation, oh, ow).reshape(n, groups, cg, oh, ow, kh, kw)
    dyg = dy.reshape(n, groups, o // groups, oh, ow)
    dw = xp.einsum("ngohw,ngchwkl->gockl", dyg, cols, optimize=True).reshape(weight_shape)
    db = dy.sum(axis=(0, 2, 3)) if bias else None
    return xp.ascontiguousarray(dw), db


class Conv2d(Function):
    """x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O,) or None -> y (N, O, OH, OW).

    float32 runs dlcore.kernels.conv2d_forward / conv2d_backward_data /
    conv2d_backward_weights (which check the shapes); float64 the einsum
    reference above.
    """

    fresh_grads = True  # backward returns new arrays and keeps none of them (Function.fresh_grads)

    activation = None  # Conv2dReLU: "relu", fused into the forward kernel

    def forward(self, x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
        self.params = dict(stride=pair(stride, "stride"), padding=conv_padding(padding),
                           dilation=pair(dilation, "dilation"), groups=int(groups))
        self.has_bias, self.kernels = bias is not None, uses_kernels(x, weight, bias)
        if self.kernels:
            self.x, self.weight = contiguous(x), contiguous(weight)
            y = K.conv2d_forward(self.x, self.weight, contiguous(bias), backend=kernel_backend("conv2d_forward"),
                                 activation=self.activation, **self.params)
        else:
            _check_conv(x, weight, bias, self.params)
            self.x, self.weight = x, weight
            y = conv2d_forward_ref(x, weight, bias, **self.params)
            if self.activation:
                y = relu_ref(y)
        if self.activation:
            self.y = y  # the mask of the backward (y > 0 exactly where conv + bias > 0)
        return y

    def backward(self, dy):
        if self.activation:
            dy = relu_mask(dy, self.y, self.kernels)
        p = self.params
        dx = dw = db = None
        if self.kernels:
            dy = contiguous(dy)
        if self.needs_input_grad[0]:
            if self.kernels:
                dx = K.conv2d_backward_data(dy, self.weight, self.x.shape,
                                            backend=kernel_backend("conv2d_backward_data"), **p)
            else:
                dx = conv2d_backward_data_ref(dy, self.weight, self.x.shape, **p)
        if self.needs_input_grad[1] or (self.has_bias and self.needs_input_grad[2]):
            if self.kernels:
                dw, db = K.conv2d_backward_weights(self.x, dy, self.weight.shape, bias=self.has_bias,
                                                   backend=kernel_backend("conv2d_backward_weights"), **p)
            else:
                dw, db = conv2d_backward_weights_ref(self.x, dy, self.weight.shape, bias=self.has_bias, **p)
        return dx, dw, db


class Conv2dReLU(Conv2d):
    """relu(conv2d(x, weight) + bias) as one Function (nn.functional.conv2d(..., activation="relu")).

    float32: the forward kernel adds the bias and applies ReLU to each output tile before storing it
    (csrc/core/epilogue.h), bitwise what Conv2d then ReLU give. Backward: dy masked by y > 0 (the
    relu_backward kernel on the saved output), then Conv2d's backward.
    """

    activation = "relu"


def relu_ref(y):
    """ReLU of the float64 path: the formula of ops/activation.py LeakyReLU at slope 0 (so fused == unfused)."""
    return array_module(y).where(y > 0, y, y * 0.0)


def relu_mask(dy, y, kernels):
    """dy where y > 0, else 0: the backward of a fused ReLU from its output (y > 0 iff its input > 0)."""
    if kernels:
        return K.relu_backward(contiguous(dy), y, 0.0, backend=kernel_backend("relu_backward"))
    return array_module(dy).where(y > 0, dy, dy * 0.0)


def _check_conv(x, w, bias, p):
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d expects x (N, C, H, W) and weight (O, C/groups, KH, KW), got {x.shape} and {w.shape}")
    conv_output_size(x.shape, w.shape, **p)  # the kernels' own checks (ValueError naming the shapes)
    if bias is not None and bias.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias shape {bias.shape} != ({w.shape[0]},)")
