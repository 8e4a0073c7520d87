"""XNOR-Net layers (Rastegari et al., 2016): binary inputs and binary weights, trained in float32.

Forward:  y = conv(sign(x), alpha * sign(W)) + b,  alpha[o] = mean |W[o]| per output channel,
          with sign(v) = +1 for v >= 0 and -1 for v < 0 (the packed kernels' convention).
Backward: the straight-through estimator, d sign(v)/dv = 1 where |v| <= 1 and 0 elsewhere,
          for the input and for the latent float weights; alpha's own gradient
          (sign(W)/n) flows too, which gives the paper's
          dL/dW = dL/dW~ * (1/n + alpha * 1{|W| <= 1}).
The float weights stay float32 and any optimizer updates them.
``dlcore.quantization.binarize(model)`` replaces these layers by packed
XNOR + popcount ones for inference (``PackedBinaryConv2d`` / ``PackedBinaryLinear``).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..ops._common import array_module
from ..tensor import Tensor
from . import functional as F
from .module import Module
from .modules import Conv2d, Linear


class SignSTE(Function):
    """sign with sign(0) = +1; backward passes the gradient where |x| <= 1 (straight-through)."""

    def forward(self, x):
        xp = array_module(x)
        self.pass_through = xp.abs(x) <= 1
        return xp.where(x >= 0, 1, -1).astype(x.dtype)

    def backward(self, dy):
        return (dy * self.pass_through).astype(dy.dtype, copy=False)


def sign_ste(x):
    """sign(x) in {-1, +1} with the straight-through gradient 1{|x| <= 1}."""
    return SignSTE.apply(x)


def binary_weight(weight):
    """alpha * sign(W), alpha = mean |W| over all but the first axis (per output channel)."""
    o = weight.shape[0]
    alpha = weight.abs().reshape(o, -1).mean(dim=1)
    return sign_ste(weight) * alpha.reshape((o,) + (1,) * (weight.ndim - 1))


class BinaryConv2d(Conv2d):
    """Conv2d whose input and weights are binarized (XNOR-Net); same arguments as Conv2d."""

    def forward(self, input):
        input, padding = self.padded(input)
        return F.conv2d(sign_ste(input), binary_weight(self.weight), self.bias, self.stride, padding,
                        self.dilation, self.groups)


class BinaryLinear(Linear):
    """Linear whose input and weights are binarized (XNOR-Net); same arguments as Linear."""

    def forward(self, input):
        return F.linear(sign_ste(input), binary_weight(self.weight), self.bias)


def _alpha(weight):
    w = weight.reshape(weight.shape[0], -1)
    return np.abs(w).mean(axis=1).astype(np.float32)


class PackedBinaryConv2d(Module):
    """Inference-only BinaryConv2d: weights as sign bits (OC, KH, KW, ceil(ICg/64)) uint64 + alpha.

    Runs ``dlcore.kernels.binary_conv2d`` (XNOR + popcount) on the sign bits of
    the input; equals the float BinaryConv2d with zero padding (out-of-image
    taps enter as 0 bits and their weights' popcount is subtracted exactly,
    see csrc/ops/binary/binary.h).
    """

    def __init__(self, conv, backend="auto"):
        super().__init__()
        from ..kernels import lowbit

        w = np.asarray(conv.weight._data, dtype=np.float32)
        oc, icg, kh, kw = w.shape
        pad = conv.padding
        if isinstance(pad, str) or (not isinstance(pad, int) and len(tuple(pad)) != 2):
            raise ValueError(f"PackedBinaryConv2d: padding {pad!r} is not supported (an int or a pair)")
        if getattr(conv, "padding_mode", "zeros") != "zeros":
            raise ValueError(f"PackedBinaryConv2d: padding_mode {conv.padding_mode!r} is not supported ('zeros')")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        ohwi = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(oc * kh * kw, icg)
        self.register_buffer("weight_bits", lowbit.binary_pack(ohwi).reshape(oc, kh, kw, -1))
        self.register_buffer("alpha", _alpha(w))
        self.register_buffer("bias", None if conv.bias is None else np.asarray(conv.bias._data, np.float32).copy())
        self.backend = backend

    def forward(self, input):
        from ..kernels import lowbit

        x = input._data if isinstance(input, Tensor) else input
        x = np.ascontiguousarray(x, dtype=np.float32)
        bits = lowbit.binary_pack_nchw(x, self.groups)
        bias = None if self.bias is None else self.bias._data
        return Tensor(lowbit.binary_conv2d(bits, self.weight_bits._data, self.in_channels, self.stride, self.padding,
                                           self.dilation, self.groups, self.alpha._data, bias, backend=self.backend))

    def extra_repr(self):
        kh, kw = self.weight_bits.shape[1:3]
        return (f"{self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, packed={self.weight_bits._data.nbytes} B")


class PackedBinaryLinear(Module):
    """Inference-only BinaryLinear: weights as sign bits (out, ceil(in/64)) uint64 + alpha."""

    def __init__(self, linear, backend="auto"):
        super().__init__()
        from ..kernels import lowbit

        w = np.ascontiguousarray(linear.weight._data, dtype=np.float32)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_bits", lowbit.binary_pack(w))
        self.register_buffer("alpha", _alpha(w))
        self.register_buffer("bias", None if linear.bias is None else np.asarray(linear.bias._data, np.float32).copy())
        self.backend = backend

    def forward(self, input):
        from ..kernels import lowbit

        x = input._data if isinstance(input, Tensor) else input
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"PackedBinaryLinear: input must be (N, {self.in_features}), got {x.shape}")
        bias = None if self.bias is None else self.bias._data
        return Tensor(lowbit.binary_gemm(lowbit.binary_pack(x), self.weight_bits._data, self.in_features,
                                         self.alpha._data, bias, backend=self.backend))

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, packed={self.weight_bits._data.nbytes} B"
