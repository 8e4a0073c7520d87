"""Softmax, log-softmax and the fused softmax cross-entropy (kernel family softmax).

float32 runs on dlcore.kernels; float64 on the NumPy formulas (the reference).
"""
from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, uses_kernels


def _log_softmax_ref(x, axis):
    xp = array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    saves_output = True

    def forward(self, x, axis=-1):
        self.axis, self.kernels = axis, uses_kernels(x)
        if self.kernels:
            self.y = K.softmax_forward(contiguous(x), axis, backend=kernel_backend("softmax_forward"))
        else:
            self.y = array_module(x).exp(_log_softmax_ref(x, axis))
        return self.y

    def backward(self, dy):
        if self.kernels:
            return K.softmax_backward(contiguous(dy), self.y, self.axis, backend=kernel_backend("softmax_backward"))
        y = self.y
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    saves_output = True

    def forward(self, x, axis=-1):
        self.axis, self.kernels = axis, uses_kernels(x)
        if self.kernels:
            self.y = K.log_softmax_forward(contiguous(x), axis, backend=kernel_backend("log_softmax_forward"))
        else:
            self.y = _log_softmax_ref(x, axis)
        return self.y

    def backward(self, dy):
        if self.kernels:
            return K.log_softmax_backward(contiguous(dy), self.y, self.axis,
                                          backend=kernel_backend("log_softmax_backward"))
        return dy - array_module(dy).exp(self.y) * dy.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Function):
    """Per-sample loss of logits (N, C) against int64 targets (N,), with label smoothing.

    loss_i = -(1 - eps) * logp[i, t_i] - eps/C * sum_c logp[i, c]

    float32 runs the fused dlcore.kernels.cross_entropy_forward/_backward
    (which check the shapes and the target range).
    """

    def forward(self, logits, target, *, label_smoothing=0.0):
        self.target, self.eps, self.kernels = target, label_smoothing, uses_kernels(logits)
        if self.kernels:
            loss, self.logp = K.cross_entropy_forward(contiguous(logits), contiguous(target),
                                                      label_smoothing=label_smoothing,
                                                      backend=kernel_backend("cross_entropy_forward"))
            return loss
        xp = array_module(logits)
        n, c = logits.shape
        if target.shape != (n,):
            raise ValueError(f"cross_entropy: target shape {target.shape} != ({n},) for logits {logits.shape}")
        if target.size and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"cross_entropy: target values must be in [0, {c}), got range "
                             f"[{int(target.min())}, {int(target.max())}]")
        self.logp = _log_softmax_ref(logits, 1)
        picked = xp.take_along_axis(self.logp, target.reshape(-1, 1).astype(np.int64), axis=1)[:, 0]
        return -(1 - label_smoothing) * picked - label_smoothing / c * self.logp.sum(axis=1)

    def backward(self, dloss):
        if self.kernels:
            return K.cross_entropy_backward(contiguous(dloss), self.logp, contiguous(self.target),
                                            label_smoothing=self.eps,
                                            backend=kernel_backend("cross_entropy_backward")), None
        xp = array_module(dloss)
        n, c = self.logp.shape
        q = xp.full((n, c), self.eps / c, dtype=self.logp.dtype)
        q[xp.arange(n), self.target] += 1 - self.eps
        return (xp.exp(self.logp) - q) * dloss.reshape(-1, 1), None
