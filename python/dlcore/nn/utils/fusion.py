"""Folding an eval-mode BatchNorm into the convolution or linear layer before it
(torch.nn.utils.fusion): ``bn(conv(x)) == fused(x)`` with the running statistics.

w' = w * g / sqrt(var + eps) per output channel, b' = (b - mean) * g / sqrt(var + eps) + beta, computed in
float64 and stored in the layer's dtype (the int8 quantizer's BatchNorm folding uses these).
"""
from __future__ import annotations

import copy

import numpy as np

from ..._device import array_like
from ..module import Parameter


def _f64(t):
    return None if t is None else np.asarray(t._data.get() if hasattr(t._data, "get") else t._data, np.float64)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(weight, bias) Parameters of the fused convolution (``transpose``: a ConvTranspose weight, whose
    output channels are its second axis)."""
    var, mean = _f64(bn_rv), _f64(bn_rm)
    gamma = _f64(bn_w) if bn_w is not None else np.ones_like(var)
    beta = _f64(bn_b) if bn_b is not None else np.zeros_like(var)
    scale = gamma / np.sqrt(var + bn_eps)
    w = _f64(conv_w)
    shape = [1] * w.ndim
    shape[1 if transpose else 0] = -1
    b = _f64(conv_b) if conv_b is not None else np.zeros_like(var)
    ref = conv_w._data  # the results go back to its device and dtype
    return (Parameter(array_like(w * scale.reshape(shape), ref, ref.dtype), requires_grad=conv_w.requires_grad),
            Parameter(array_like((b - mean) * scale + beta, ref, ref.dtype), requires_grad=conv_w.requires_grad))


def _check(layer, bn, channels, who):
    if layer.training or bn.training:
        raise ValueError(f"{who}: fusion is for evaluation only; call .eval() on both modules first")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"{who}: the BatchNorm has no running statistics (track_running_stats=False)")
    if bn.num_features != channels:
        raise ValueError(f"{who}: BatchNorm({bn.num_features}) does not follow a layer with {channels} outputs")


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of `conv` (Conv1d/2d/3d or ConvTranspose) equal to ``bn(conv(x))`` in eval mode."""
    channels = conv.weight.shape[1] * getattr(conv, "groups", 1) if transpose else conv.weight.shape[0]
    _check(conv, bn, channels, "fuse_conv_bn_eval")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(weight, bias) Parameters of the fused Linear."""
    return fuse_conv_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)


def fuse_linear_bn_eval(linear, bn):
    """A copy of `linear` equal to ``bn(linear(x))`` in eval mode (BatchNorm1d over its outputs)."""
    _check(linear, bn, linear.weight.shape[0], "fuse_linear_bn_eval")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(linear.weight, linear.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
