"""3-D convolution and transposed convolution (NCDHW activations, OIDHW weights) on the 2-D convolution kernels.

A 3-D convolution is a 2-D one whose input channels also run over the kernel's depth taps. For output
depth i, tap t reads input depth ``i*sd - pd + t*dd``; stacking those KD slices as extra channels
(per group: (KD, C/groups)) gives, for all output depths at once,

    y[n, :, i] = conv2d(stacked[n*OD + i], w2)     stacked: (N*OD, groups*KD*C/groups, H, W)
                                                   w2 = w.transpose(0, 2, 1, 3, 4): (O, KD*C/groups, KH, KW)

so forward, data gradient and weight gradient are one conv2d kernel call each (the data gradient of
``stacked`` is then added back to the KD depth slices it was copied from). The price is memory: ``stacked``
holds about KD/stride_d copies of the input (vol2col would hold KD*KH*KW/stride^3). Measured against vol2col +
our GEMM and against one conv2d call per depth tap (forward+backward, N=2, C=16->32, D=8, H=W=28, k=3,
pad 1, 2 threads): 37.6 ms stacked, 42.2 ms per tap, 45.9 ms vol2col; torch 2.14 took 60.6 ms.

float32 runs dlcore.kernels; float64 runs the same composition on the einsum references of ops/conv.py
(the tests check both against a direct loop). ConvTranspose3d is the data gradient of Conv3d, as
ConvTranspose2d is of Conv2d (ops/conv_transpose.py).
"""
from __future__ import annotations

import numbers

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, uses_kernels
from .conv import conv2d_backward_data_ref, conv2d_backward_weights_ref, conv2d_forward_ref


def triple(value, name):
    """An int or a 3-sequence -> a tuple of three ints."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * 3
    value = tuple(value)
    if len(value) != 3 or not all(isinstance(v, numbers.Integral) for v in value):
        raise ValueError(f"{name} must be an int or a triple of ints, got {value}")
    return tuple(int(v) for v in value)


def conv3d_padding(padding, kernel, dilation, stride):
    """int, triple, "valid" or "same" -> ((d_lo, d_hi), (h_lo, h_hi), (w_lo, w_hi)); "same" puts the odd
    extra on the high side, as torch does, and needs stride 1."""
    if padding == "valid":
        return ((0, 0),) * 3
    if padding == "same":
        if stride != (1, 1, 1):
            raise ValueError("conv3d: padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        raise ValueError(f"conv3d: padding must be an int, a triple, 'same' or 'valid', got {padding!r}")
    return tuple((p, p) for p in triple(padding, "conv3d: padding"))


def conv_output_length(size, kernel, stride, pad_lo, pad_hi, dilation):
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


class Geometry:
    """The hyper-parameters of one 3-D convolution, checked once against the input and weight shapes.

    x_shape (N, C, D, H, W), w_shape (O, C/groups, KD, KH, KW); ``out`` is (OD, OH, OW).
    """

    def __init__(self, name, x_shape, w_shape, stride, padding, dilation, groups):
        if len(x_shape) != 5 or len(w_shape) != 5:
            raise ValueError(f"{name} expects input (N, C, D, H, W) and weight (O, C/groups, KD, KH, KW), "
                             f"got {tuple(x_shape)} and {tuple(w_shape)}")
        self.stride, self.dilation = triple(stride, f"{name}: stride"), triple(dilation, f"{name}: dilation")
        self.groups = int(groups)
        self.kernel = tuple(int(k) for k in w_shape[2:])
        self.padding = conv3d_padding(padding, self.kernel, self.dilation, self.stride)
        if min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(f"{name}: stride {self.stride} and dilation {self.dilation} must be >= 1")
        if min(min(p) for p in self.padding) < 0:
            raise ValueError(f"{name}: padding must be >= 0, got {padding}")
        n, c = x_shape[:2]
        o, cg = w_shape[:2]
        if self.groups < 1 or o % self.groups or c != cg * self.groups:
            raise ValueError(f"{name}: input {tuple(x_shape)} has {c} channels; weight {tuple(w_shape)} with "
                             f"groups={self.groups} expects {cg * self.groups} (and out_channels divisible by groups)")
        if min(self.kernel) < 1:
            raise ValueError(f"{name}: kernel size {self.kernel} must be positive")
        self.out = tuple(conv_output_length(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d in
                         zip(x_shape[2:], self.kernel, self.stride, self.padding, self.dilation))
        if min(self.out) < 1:
            raise ValueError(f"{name}: input {tuple(x_shape)} is smaller than the dilated kernel {self.kernel} "
                             f"(padding {self.padding}); output size {self.out}")

    def conv2d_params(self):
        """The arguments of the conv2d over (H, W): depth is handled by the stacking."""
        (_, _), (top, bottom), (left, right) = self.padding
        return dict(stride=self.stride[1:], padding=(top, bottom, left, right), dilation=self.dilation[1:],
                    groups=self.groups)

    def depth_taps(self):
        """For each depth tap t, the slice of the depth-padded input read by all output depths."""
        kd, sd, dd, od = self.kernel[0], self.stride[0], self.dilation[0], self.out[0]
        return [slice(t * dd, t * dd + sd * (od - 1) + 1, sd) for t in range(kd)]


def _stack_depth_taps(x, g):
    """x (N, C, D, H, W) -> (N*OD, groups*KD*C/groups, H, W): each output depth's KD input slices as channels."""
    n, c, d, h, w = x.shape
    (lo, hi) = g.padding[0]
    xp = array_module(x)
    depth_major = xp.pad(x.transpose(0, 2, 1, 3, 4), ((0, 0), (lo, hi), (0, 0), (0, 0), (0, 0)))
    od, cg = g.out[0], c // g.groups
    taps = [depth_major[:, s].reshape(n, od, g.groups, cg, h, w) for s in g.depth_taps()]
    return xp.stack(taps, axis=3).reshape(n * od, c * len(taps), h, w)


def _unstack_depth_taps(dstacked, x_shape, g):
    """The adjoint of _stack_depth_taps: adds each tap's gradient back to the depth slices it came from."""
    n, c, d, h, w = x_shape
    (lo, hi) = g.padding[0]
    kd, od, cg = g.kernel[0], g.out[0], c // g.groups
    dstacked = dstacked.reshape(n, od, g.groups, kd, cg, h, w)
    xp = array_module(dstacked)
    ddepth_major = xp.zeros((n, d + lo + hi, g.groups, cg, h, w), dtype=dstacked.dtype)
    for t, s in enumerate(g.depth_taps()):
        ddepth_major[:, s] += dstacked[:, :, :, t]
    return xp.ascontiguousarray(ddepth_major[:, lo: lo + d].reshape(n, d, c, h, w).transpose(0, 2, 1, 3, 4))


def _weight_2d(w):
    """(O, C/groups, KD, KH, KW) -> (O, KD*C/groups, KH, KW), the channel order of the stacked input."""
    o, cg, kd, kh, kw = w.shape
    return array_module(w).ascontiguousarray(w.transpose(0, 2, 1, 3, 4)).reshape(o, kd * cg, kh, kw)


def _weight_3d(w2, w_shape):
    o, cg, kd, kh, kw = w_shape
    return array_module(w2).ascontiguousarray(w2.reshape(o, kd, cg, kh, kw).transpose(0, 2, 1, 3, 4))


def _to_ncdhw(y2, n, g):
    """(N*OD, O, OH, OW) -> (N, O, OD, OH, OW)."""
    return array_module(y2).ascontiguousarray(y2.reshape((n, g.out[0]) + y2.shape[1:]).transpose(0, 2, 1, 3, 4))


def _to_depth_batch(dy):
    """(N, O, OD, OH, OW) -> (N*OD, O, OH, OW)."""
    n, o, od, oh, ow = dy.shape
    return array_module(dy).ascontiguousarray(dy.transpose(0, 2, 1, 3, 4)).reshape(n * od, o, oh, ow)


def conv3d_forward(x, w, bias, g, kernels):
    stacked = _stack_depth_taps(x, g)
    if kernels:
        y2 = K.conv2d_forward(stacked, _weight_2d(w), contiguous(bias), backend=kernel_backend("conv2d_forward"),
                              **g.conv2d_params())
    else:
        y2 = conv2d_forward_ref(stacked, _weight_2d(w), bias, **g.conv2d_params())
    return _to_ncdhw(y2, x.shape[0], g)


def conv3d_backward_data(dy, w, x_shape, g, kernels):
    n, c, d, h, wd = x_shape
    stacked_shape = (n * g.out[0], c * g.kernel[0], h, wd)
    dy2, w2 = _to_depth_batch(dy), _weight_2d(w)
    if kernels:
        dstacked = K.conv2d_backward_data(dy2, w2, stacked_shape, backend=kernel_backend("conv2d_backward_data"),
                                          **g.conv2d_params())
    else:
        dstacked = conv2d_backward_data_ref(dy2, w2, stacked_shape, **g.conv2d_params())
    return _unstack_depth_taps(dstacked, x_shape, g)


def conv3d_backward_weights(x, dy, w_shape, g, kernels):
    stacked, dy2 = _stack_depth_taps(x, g), _to_depth_batch(dy)
    o, cg, kd, kh, kw = w_shape
    w2_shape = (o, kd * cg, kh, kw)
    if kernels:
        dw2, _ = K.conv2d_backward_weights(stacked, dy2, w2_shape, bias=False,
                                           backend=kernel_backend("conv2d_backward_weights"), **g.conv2d_params())
    else:
        dw2, _ = conv2d_backward_weights_ref(stacked, dy2, w2_shape, bias=False, **g.conv2d_params())
    return _weight_3d(dw2, w_shape)


def _check_bias(name, bias, channels):
    if bias is not None and bias.shape != (channels,):
        raise ValueError(f"{name}: bias shape {bias.shape} != ({channels},)")


class Conv3d(Function):
    """x (N, C, D, H, W), weight (O, C/groups, KD, KH, KW), bias (O,) or None -> y (N, O, OD, OH, OW)."""

    fresh_grads = True  # backward returns new arrays and keeps none of them (Function.fresh_grads)

    def forward(self, x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
        self.geometry = Geometry("conv3d", x.shape, weight.shape, stride, padding, dilation, groups)
        _check_bias("conv3d", bias, weight.shape[0])
        self.kernels, self.has_bias = uses_kernels(x, weight, bias), bias is not None
        self.x, self.weight = x, weight
        return conv3d_forward(x, weight, bias, self.geometry, self.kernels)

    def backward(self, dy):
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = conv3d_backward_data(dy, self.weight, self.x.shape, self.geometry, self.kernels)
        if self.needs_input_grad[1]:
            dw = conv3d_backward_weights(self.x, dy, self.weight.shape, self.geometry, self.kernels)
        if self.has_bias and self.needs_input_grad[2]:
            db = dy.sum(axis=(0, 2, 3, 4))
        return dx, dw, db


def conv_transpose3d_output_shape(x_shape, w_shape, stride, padding, output_padding, dilation, groups):
    """(N, C_out, OD, OH, OW) of conv_transpose3d, with its checks (torch's rules)."""
    name = "conv_transpose3d"
    if len(x_shape) != 5 or len(w_shape) != 5:
        raise ValueError(f"{name} expects input (N, C_in, D, H, W) and weight (C_in, C_out/groups, KD, KH, KW), "
                         f"got {tuple(x_shape)} and {tuple(w_shape)}")
    stride, dilation = triple(stride, f"{name}: stride"), triple(dilation, f"{name}: dilation")
    padding, output_padding = triple(padding, f"{name}: padding"), triple(output_padding, f"{name}: output_padding")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{name}: stride {stride} and dilation {dilation} must be >= 1, padding {padding} and "
                         f"output_padding {output_padding} >= 0")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{name}: output_padding {output_padding} must be smaller than stride {stride} or "
                         f"dilation {dilation}")
    if groups < 1 or x_shape[1] != w_shape[0] or w_shape[0] % groups:
        raise ValueError(f"{name}: input {tuple(x_shape)} and weight {tuple(w_shape)} do not match with "
                         f"groups={groups} (weight.shape[0] must be the input channels, divisible by groups)")
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, k, s, p, d, op in
                zip(x_shape[2:], w_shape[2:], stride, padding, dilation, output_padding))
    if min(out) < 1:
        raise ValueError(f"{name}: output size {out} of input {tuple(x_shape)} is not positive")
    return (x_shape[0], w_shape[1] * groups) + out


class ConvTranspose3d(Function):
    """x (N, C_in, D, H, W), weight (C_in, C_out/groups, KD, KH, KW), bias (C_out,) -> (N, C_out, OD, OH, OW).

    The data gradient of the Conv3d whose input has the output's shape: forward is conv3d_backward_data,
    dx is conv3d_forward of dy, dw is conv3d_backward_weights with the roles of input and dy swapped.
    """

    fresh_grads = True

    def forward(self, x, weight, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        self.out_shape = conv_transpose3d_output_shape(x.shape, weight.shape, stride, padding, output_padding,
                                                       dilation, int(groups))
        _check_bias("conv_transpose3d", bias, self.out_shape[1])
        # the convolution this one transposes: input of out_shape, weight as given (O = C_in)
        self.geometry = Geometry("conv_transpose3d", self.out_shape, weight.shape, stride, padding, dilation, groups)
        self.kernels, self.has_bias = uses_kernels(x, weight, bias), bias is not None
        self.x, self.weight = x, weight
        y = conv3d_backward_data(x, weight, self.out_shape, self.geometry, self.kernels)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1, 1)
        return y

    def backward(self, dy):
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = conv3d_forward(dy, self.weight, None, self.geometry, self.kernels)
        if self.needs_input_grad[1]:
            dw = conv3d_backward_weights(dy, self.x, self.weight.shape, self.geometry, self.kernels)
        if self.has_bias and self.needs_input_grad[2]:
            db = dy.sum(axis=(0, 2, 3, 4))
        return dx, dw, db
