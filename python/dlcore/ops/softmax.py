"""Softmax, log-softmax and the fused softmax cross-entropy (kernel family softmax)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module


def _log_softmax_ref(x, axis):
    xp = array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    def forward(self, x, axis=-1):
        self.axis = axis
        # TODO(kernel): switch float32 to dlcore.kernels.softmax_forward when it lands
        self.y = array_module(x).exp(_log_softmax_ref(x, axis))
        return self.y

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.softmax_backward when it lands
        y = self.y
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, axis=-1):
        self.axis = axis
        # TODO(kernel): switch float32 to dlcore.kernels.log_softmax_forward when it lands
        self.y = _log_softmax_ref(x, axis)
        return self.y

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.log_softmax_backward when it lands
        return dy - array_module(dy).exp(self.y) * dy.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Function):
    """Per-sample loss of logits (N, C) against int64 targets (N,), with label smoothing.

    loss_i = -(1 - eps) * logp[i, t_i] - eps/C * sum_c logp[i, c]
    """

    def forward(self, logits, target, *, label_smoothing=0.0):
        xp = array_module(logits)
        n, c = logits.shape
        if target.shape != (n,):
            raise ValueError(f"cross_entropy: target shape {target.shape} != ({n},) for logits {logits.shape}")
        if target.size and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"cross_entropy: target values must be in [0, {c}), got range "
                             f"[{int(target.min())}, {int(target.max())}]")
        # TODO(kernel): switch float32 to dlcore.kernels.cross_entropy_forward when it lands
        logp = _log_softmax_ref(logits, 1)
        self.logp, self.target, self.eps = logp, target, label_smoothing
        picked = xp.take_along_axis(logp, target.reshape(-1, 1).astype(np.int64), axis=1)[:, 0]
        return -(1 - label_smoothing) * picked - label_smoothing / c * logp.sum(axis=1)

    def backward(self, dloss):
        xp = array_module(dloss)
        # TODO(kernel): switch float32 to dlcore.kernels.cross_entropy_backward when it lands
        n, c = self.logp.shape
        q = xp.full((n, c), self.eps / c, dtype=self.logp.dtype)
        q[xp.arange(n), self.target] += 1 - self.eps
        return (xp.exp(self.logp) - q) * dloss.reshape(-1, 1), None
