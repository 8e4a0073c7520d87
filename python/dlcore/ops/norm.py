"""Batch normalization over (N, C) or (N, C, H, W); statistics per channel."""
from __future__ import annotations

from ..autograd import Function
from ._common import array_module


def _reduce_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


class BatchNormTraining(Function):
    """Normalizes with the batch statistics and updates running stats in place (when given)."""

    def forward(self, x, weight, bias, running_mean=None, running_var=None, *, momentum=0.1, eps=1e-5):
        xp = array_module(x)
        axes = _reduce_axes(x)
        count = x.size // x.shape[1]
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        # TODO(kernel): switch float32 to dlcore.kernels.batch_norm_forward_training when it lands
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        invstd = 1 / xp.sqrt(var + eps)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * count / (count - 1)  # unbiased
        self.x, self.weight, self.mean, self.invstd = x, weight, mean, invstd
        y = (x - _per_channel(mean, x)) * _per_channel(invstd, x)
        if weight is not None:
            y = y * _per_channel(weight, x)
        if bias is not None:
            y = y + _per_channel(bias, x)
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.batch_norm_backward when it lands
        x, w = self.x, self.weight
        axes = _reduce_axes(x)
        xhat = (x - _per_channel(self.mean, x)) * _per_channel(self.invstd, x)
        dbias = dy.sum(axis=axes)
        dweight = (dy * xhat).sum(axis=axes)
        scale = self.invstd if w is None else self.invstd * w
        count = x.size // x.shape[1]
        dx = _per_channel(scale, x) * (dy - _per_channel(dbias / count, x) - xhat * _per_channel(dweight / count, x))
        grads = (dx, dweight if w is not None else None, dbias)
        return tuple(g if need else None for g, need in zip(grads, self.needs_input_grad))


class BatchNormInference(Function):
    """Normalizes with the running statistics (an affine map per channel)."""

    def forward(self, x, weight, bias, running_mean, running_var, *, eps=1e-5):
        xp = array_module(x)
        # TODO(kernel): switch float32 to dlcore.kernels.batch_norm_forward_inference when it lands
        invstd = 1 / xp.sqrt(running_var + eps)
        self.x, self.scale = x, invstd if weight is None else invstd * weight
        self.xhat = (x - _per_channel(running_mean, x)) * _per_channel(invstd, x)
        y = self.xhat * (_per_channel(weight, x) if weight is not None else 1)
        if bias is not None:
            y = y + _per_channel(bias, x)
        return y.astype(x.dtype, copy=False)

    def backward(self, dy):
        x = self.x
        axes = _reduce_axes(x)
        dx = dy * _per_channel(self.scale, x)
        dweight = (dy * self.xhat).sum(axis=axes)
        dbias = dy.sum(axis=axes)
        return tuple(g if need else None for g, need in zip((dx, dweight, dbias), self.needs_input_grad))
