"""Layer and group normalization: statistics per sample (not per batch), affine per element/channel.

Both normalize groups of elements of one sample, ``xhat = (x - mean) * invstd``,
and share one backward formula for that step:
``dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` over the
normalized axes. NumPy/CuPy formulas for every dtype (dlcore.kernels has no
layer-norm kernel).
"""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


def _normalize(x, axes, eps):
    xp = array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    invstd = 1 / xp.sqrt((centered * centered).mean(axis=axes, keepdims=True) + eps)
    return centered * invstd, invstd


def _normalize_backward(dxhat, xhat, invstd, axes):
    return invstd * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                     - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))


class LayerNorm(Function):
    """Normalizes over the last len(normalized_shape) axes; weight/bias have normalized_shape."""

    def forward(self, x, weight, bias, normalized_shape, eps=1e-5):
        k = len(normalized_shape)
        if tuple(x.shape[x.ndim - k:]) != tuple(normalized_shape) or x.ndim < k:
            raise ValueError(f"layer_norm: input {x.shape} does not end with normalized_shape "
                             f"{tuple(normalized_shape)}")
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and tuple(p.shape) != tuple(normalized_shape):
                raise ValueError(f"layer_norm: {name} shape {p.shape} != normalized_shape {tuple(normalized_shape)}")
        self.axes = tuple(range(x.ndim - k, x.ndim))
        self.eps = eps
        self.xhat, self.invstd = _normalize(x, self.axes, eps)
        self.weight = weight
        y = self.xhat if weight is None else self.xhat * weight
        return y + bias if bias is not None else y

    def backward(self, dy):
        lead = tuple(range(dy.ndim - len(self.axes)))
        dxhat = dy if self.weight is None else dy * self.weight
        dx = _normalize_backward(dxhat, self.xhat, self.invstd, self.axes) if self.needs_input_grad[0] else None
        dw = (dy * self.xhat).sum(axis=lead) if self.weight is not None and self.needs_input_grad[1] else None
        db = dy.sum(axis=lead) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return dx, dw, db


class GroupNorm(Function):
    """x (N, C, *) in `num_groups` groups of C/num_groups channels; weight/bias (C,) per channel."""

    def forward(self, x, num_groups, weight, bias, eps=1e-5):
        if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
            raise ValueError(f"group_norm: {x.shape[1] if x.ndim > 1 else x.shape} channels of input {x.shape} "
                             f"are not divisible into num_groups={num_groups}")
        c = x.shape[1]
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and tuple(p.shape) != (c,):
                raise ValueError(f"group_norm: {name} shape {p.shape} != ({c},)")
        self.shape, self.groups, self.eps = x.shape, num_groups, eps
        xg = x.reshape(x.shape[0], num_groups, -1)
        xhat, self.invstd = _normalize(xg, (2,), eps)
        self.xhat = xhat.reshape(x.shape)
        self.channel = (1, c) + (1,) * (x.ndim - 2)
        self.weight = weight
        y = self.xhat if weight is None else self.xhat * weight.reshape(self.channel)
        return y + bias.reshape(self.channel) if bias is not None else y

    def backward(self, dy):
        axes = (0,) + tuple(range(2, dy.ndim))
        n = self.shape[0]
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dxhat = dy if self.weight is None else dy * self.weight.reshape(self.channel)
            dx = _normalize_backward(dxhat.reshape(n, self.groups, -1), self.xhat.reshape(n, self.groups, -1),
                                     self.invstd, (2,)).reshape(self.shape)
        if self.weight is not None and self.needs_input_grad[2]:
            dw = (dy * self.xhat).sum(axis=axes)
        if len(self.needs_input_grad) > 3 and self.needs_input_grad[3]:
            db = dy.sum(axis=axes)
        return dx, None, dw, db
