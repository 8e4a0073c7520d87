"""Activations (kernel family eltwise): relu/leaky_relu, prelu, elu, sigmoid, tanh, maxout.

float32 runs dlcore.kernels.<op>_forward/_backward on the current backend;
float64 runs the NumPy formula beside it (the reference; see ops/_common.py).
"""
from __future__ import annotations

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, cuda_gap, kernel_backend, put_along_axis, uses_kernels


class LeakyReLU(Function):
    """y = x if x > 0 else negative_slope * x (negative_slope 0 is ReLU)."""

    def forward(self, x, negative_slope=0.0):
        self.slope, self.kernels = negative_slope, uses_kernels(x)
        if self.kernels:
            self.x = contiguous(x)
            return K.relu_forward(self.x, negative_slope, backend=kernel_backend("relu_forward"))
        self.x = x
        return array_module(x).where(x > 0, x, x * negative_slope)

    def backward(self, dy):
        if self.kernels:
            return K.relu_backward(contiguous(dy), self.x, self.slope, backend=kernel_backend("relu_backward"))
        return array_module(dy).where(self.x > 0, dy, dy * self.slope)


def _channel_shape(x, weight):
    """weight (C,) broadcast over axis 1 of x, or a single shared slope."""
    if weight.size == 1:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (x.ndim - 2))


class PReLU(Function):
    """y = x if x > 0 else weight[c] * x, per channel (axis 1) or one shared weight."""

    def forward(self, x, weight):
        self.kernels = uses_kernels(x, weight)
        if self.kernels:
            self.x, self.weight = contiguous(x), contiguous(weight)
            return K.prelu_forward(self.x, self.weight, backend=kernel_backend("prelu_forward"))
        if weight.ndim != 1 or (weight.size != 1 and (x.ndim < 2 or weight.size != x.shape[1])):
            raise ValueError(f"prelu: weight {weight.shape} must be (1,) or (C,) with C = x.shape[1] of {x.shape}")
        self.x, self.weight = x, weight
        return array_module(x).where(x > 0, x, x * _channel_shape(x, weight))

    def backward(self, dy):
        if self.kernels:
            dx, dw = K.prelu_backward(contiguous(dy), self.x, self.weight, backend=kernel_backend("prelu_backward"))
            return tuple(g if need else None for g, need in zip((dx, dw), self.needs_input_grad))
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
        self.alpha, self.kernels = alpha, uses_kernels(x)
        if self.kernels:
            self.x = contiguous(x)
            return K.elu_forward(self.x, alpha, backend=kernel_backend("elu_forward"))
        self.x = x
        xp = array_module(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, dy):
        if self.kernels:
            return K.elu_backward(contiguous(dy), self.x, self.alpha, backend=kernel_backend("elu_backward"))
        xp = array_module(dy)
        return xp.where(self.x > 0, dy, dy * self.alpha * xp.exp(xp.minimum(self.x, 0)))


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)); backward from the output y."""

    saves_output = True

    def forward(self, x):
        self.kernels = uses_kernels(x)
        if self.kernels:
            self.y = K.sigmoid_forward(contiguous(x), backend=kernel_backend("sigmoid_forward"))
            return self.y
        xp = array_module(x)
        # Written with exp(-|x|) so neither branch overflows.
        e = xp.exp(-xp.abs(x))
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self.y

    def backward(self, dy):
        if self.kernels:
            return K.sigmoid_backward(contiguous(dy), self.y, backend=kernel_backend("sigmoid_backward"))
        return dy * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh(x); backward from the output y."""

    saves_output = True

    def forward(self, x):
        self.kernels = uses_kernels(x)
        if self.kernels:
            self.y = K.tanh_forward(contiguous(x), backend=kernel_backend("tanh_forward"))
        else:
            self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, dy):
        if self.kernels:
            return K.tanh_backward(contiguous(dy), self.y, backend=kernel_backend("tanh_backward"))
        return dy * (1 - self.y * self.y)


class Maxout(Function):
    """Max over groups of `pool_size` consecutive channels (axis 1): (N, C, ...) -> (N, C/pool_size, ...)."""

    def forward(self, x, pool_size):
        self.shape, self.pool = x.shape, pool_size
        self.kernels = uses_kernels(x) and not cuda_gap("maxout_forward", x)
        if self.kernels:
            y, self.indices = K.maxout_forward(contiguous(x), pool_size, backend=kernel_backend("maxout_forward"))
            return y
        if x.ndim < 2 or pool_size < 1 or x.shape[1] % pool_size:
            raise ValueError(f"maxout: channels of {x.shape} must be divisible by pool_size={pool_size}")
        xp = array_module(x)
        n, c = x.shape[:2]
        grouped = x.reshape((n, c // pool_size, pool_size) + x.shape[2:])
        self.indices = xp.argmax(grouped, axis=2)[:, :, None]
        return xp.take_along_axis(grouped, self.indices, axis=2)[:, :, 0]

    def backward(self, dy):
        if self.kernels:
            return K.maxout_backward(contiguous(dy), self.indices, self.pool, backend=kernel_backend("maxout_backward"))
        xp = array_module(dy)
        n, c = self.shape[:2]
        dx = xp.zeros((n, c // self.pool, self.pool) + self.shape[2:], dtype=dy.dtype)
        put_along_axis(dx, self.indices, dy[:, :, None], axis=2)
        return dx.reshape(self.shape)
