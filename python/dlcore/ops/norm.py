"""Batch normalization over (N, C) or (N, C, H, W); statistics per channel."""
from __future__ import annotations

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, uses_kernels


def _reduce_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


class BatchNormTraining(Function):
    """Normalizes with the batch statistics and updates running stats in place (when given).

    float32 runs dlcore.kernels.batch_norm_forward_training / batch_norm_backward.
    """

    fresh_grads = True  # backward returns new arrays and keeps none of them (Function.fresh_grads)

    def forward(self, x, weight, bias, running_mean=None, running_var=None, *, momentum=0.1, eps=1e-5):
        self.kernels = uses_kernels(x, weight, bias, running_mean, running_var)
        self.eps = eps  # for double backward (double_backward_more)
        if self.kernels:
            # running stats are updated in place by the kernel: they must be the module's own buffers
            self.x, self.weight = contiguous(x), contiguous(weight)
            y, self.mean, self.invstd = K.batch_norm_forward_training(
                self.x, self.weight, contiguous(bias), running_mean, running_var, momentum=momentum, eps=eps,
                backend=kernel_backend("batch_norm_forward_training"))
            return y
        xp = array_module(x)
        axes = _reduce_axes(x)
        count = x.size // x.shape[1]
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
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
        if self.kernels:
            grads = K.batch_norm_backward(contiguous(dy), self.x, self.weight, self.mean, self.invstd,
                                          backend=kernel_backend("batch_norm_backward"))
        else:
            grads = self._backward_ref(dy)
        return tuple(g if need else None for g, need in zip(grads, self.needs_input_grad))

    def _backward_ref(self, dy):
        x, w = self.x, self.weight
        axes = _reduce_axes(x)
        xhat = (x - _per_channel(self.mean, x)) * _per_channel(self.invstd, x)
        dbias = dy.sum(axis=axes)
        dweight = (dy * xhat).sum(axis=axes)
        scale = self.invstd if w is None else self.invstd * w
        count = x.size // x.shape[1]
        dx = _per_channel(scale, x) * (dy - _per_channel(dbias / count, x) - xhat * _per_channel(dweight / count, x))
        return dx, dweight if w is not None else None, dbias


class BatchNormInference(Function):
    """Normalizes with the running statistics (an affine map per channel).

    float32 forward runs dlcore.kernels.batch_norm_forward_inference. The
    kernel API has no inference backward (it is a per-channel affine map:
    dx = dy * scale, dweight = sum(dy * xhat), dbias = sum(dy)), so its
    backward is these NumPy expressions in both dtypes.
    """

    def forward(self, x, weight, bias, running_mean, running_var, *, eps=1e-5):
        # copies: the (C,) statistics must stay those of this forward even if the buffers change later
        self.x, self.weight, self.stats, self.eps = x, weight, (running_mean.copy(), running_var.copy()), eps
        if uses_kernels(x, weight, bias, running_mean, running_var):
            return K.batch_norm_forward_inference(
                contiguous(x), contiguous(weight), contiguous(bias), contiguous(running_mean),
                contiguous(running_var), eps=eps, backend=kernel_backend("batch_norm_forward_inference"))
        y = self._xhat(x)
        if weight is not None:
            y = y * _per_channel(weight, x)
        if bias is not None:
            y = y + _per_channel(bias, x)
        return y.astype(x.dtype, copy=False)

    def _invstd(self):
        running_var = self.stats[1]
        return 1 / array_module(running_var).sqrt(running_var + self.eps)

    def _xhat(self, x):
        return (x - _per_channel(self.stats[0], x)) * _per_channel(self._invstd(), x)

    def backward(self, dy):
        x, w = self.x, self.weight
        axes = _reduce_axes(x)
        scale = self._invstd() if w is None else self._invstd() * w
        dx = dy * _per_channel(scale, x).astype(dy.dtype, copy=False) if self.needs_input_grad[0] else None
        dweight = (dy * self._xhat(x)).sum(axis=axes).astype(dy.dtype, copy=False) if self.needs_input_grad[1] \
            else None
        dbias = dy.sum(axis=axes) if self.needs_input_grad[2] else None
        return dx, dweight, dbias
