"""Activations (kernel family eltwise): relu/leaky_relu, prelu, elu, sigmoid, tanh, maxout."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module


class LeakyReLU(Function):
    """y = x if x > 0 else negative_slope * x (negative_slope 0 is ReLU)."""

    def forward(self, x, negative_slope=0.0):
        self.x, self.slope = x, negative_slope
        # TODO(kernel): switch float32 to dlcore.kernels.relu_forward when it lands
        return array_module(x).where(x > 0, x, x * negative_slope)

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.relu_backward when it lands
        return array_module(dy).where(self.x > 0, dy, dy * self.slope)


def _channel_shape(x, weight):
    """weight (C,) broadcast over axis 1 of x, or a single shared slope."""
    if weight.size == 1:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (x.ndim - 2))


class PReLU(Function):
    """y = x if x > 0 else weight[c] * x, per channel (axis 1) or one shared weight."""

    def forward(self, x, weight):
        if weight.ndim != 1 or (weight.size != 1 and (x.ndim < 2 or weight.size != x.shape[1])):
            raise ValueError(f"prelu: weight {weight.shape} must be (1,) or (C,) with C = x.shape[1] of {x.shape}")
        self.x, self.weight = x, weight
        # TODO(kernel): switch float32 to dlcore.kernels.prelu_forward when it lands
        return array_module(x).where(x > 0, x, x * _channel_shape(x, weight))

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.prelu_backward when it lands
        xp = array_module(dy)
        x, w = self.x, self.weight
        dx = xp.where(x > 0, dy, dy * _channel_shape(x, w)) if self.needs_input_grad[0] else None
        dw = None
        if self.needs_input_grad[1]:
            contrib = xp.where(x > 0, 0, dy * x)
            dw = contrib.sum().reshape(1) if w.size == 1 else \
                contrib.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
            dw = dw.astype(w.dtype)
        return dx, dw


class ELU(Function):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""

    def forward(self, x, alpha=1.0):
        self.x, self.alpha = x, alpha
        xp = array_module(x)
        # TODO(kernel): switch float32 to dlcore.kernels.elu_forward when it lands
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, dy):
        xp = array_module(dy)
        # TODO(kernel): switch float32 to dlcore.kernels.elu_backward when it lands
        return xp.where(self.x > 0, dy, dy * self.alpha * xp.exp(xp.minimum(self.x, 0)))


class Sigmoid(Function):
    def forward(self, x):
        xp = array_module(x)
        # TODO(kernel): switch float32 to dlcore.kernels.sigmoid_forward when it lands
        # Written with exp(-|x|) so neither branch overflows.
        e = xp.exp(-xp.abs(x))
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self.y

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.sigmoid_backward when it lands
        return dy * self.y * (1 - self.y)


class Tanh(Function):
    def forward(self, x):
        # TODO(kernel): switch float32 to dlcore.kernels.tanh_forward when it lands
        self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.tanh_backward when it lands
        return dy * (1 - self.y * self.y)


class Maxout(Function):
    """Max over groups of `pool_size` consecutive channels (axis 1): (N, C, ...) -> (N, C/pool_size, ...)."""

    def forward(self, x, pool_size):
        if x.ndim < 2 or pool_size < 1 or x.shape[1] % pool_size:
            raise ValueError(f"maxout: channels of {x.shape} must be divisible by pool_size={pool_size}")
        xp = array_module(x)
        self.shape, self.pool = x.shape, pool_size
        n, c = x.shape[:2]
        grouped = x.reshape((n, c // pool_size, pool_size) + x.shape[2:])
        # TODO(kernel): switch float32 to dlcore.kernels.maxout_forward when it lands
        self.indices = xp.argmax(grouped, axis=2)[:, :, None]
        return xp.take_along_axis(grouped, self.indices, axis=2)[:, :, 0]

    def backward(self, dy):
        xp = array_module(dy)
        n, c = self.shape[:2]
        # TODO(kernel): switch float32 to dlcore.kernels.maxout_backward when it lands
        dx = xp.zeros((n, c // self.pool, self.pool) + self.shape[2:], dtype=dy.dtype)
        xp.put_along_axis(dx, self.indices, dy[:, :, None], axis=2)
        return dx.reshape(self.shape)
