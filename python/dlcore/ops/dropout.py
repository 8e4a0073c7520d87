"""Inverted dropout: y = x * mask / (1 - p), mask ~ Bernoulli(1 - p)."""
from __future__ import annotations

import numpy as np

from .. import kernels as K
from ..autograd import Function
from ._common import array_module, contiguous, kernel_backend, uses_kernels
from ._philox import dropout_mask


class Dropout(Function):
    """Float32 runs dlcore.kernels.dropout_* (Philox keyed by seed, counter = element
    index: the mask depends on the seed only, never on threads). Float64 applies
    the very same mask, computed by the NumPy Philox in ``_philox``."""

    def forward(self, x, p, seed):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.kernels = uses_kernels(x)
        if self.kernels:
            y, self.mask = K.dropout_forward(contiguous(x), p, seed, backend=kernel_backend("dropout_forward"))
            return y
        xp = array_module(x)
        self.mask = xp.asarray(dropout_mask(x.size, p, seed).reshape(x.shape))
        self.scale = 1.0 / (1.0 - np.float32(p))
        return x * self.mask * x.dtype.type(self.scale)

    def backward(self, dy):
        if self.kernels:
            return K.dropout_backward(contiguous(dy), self.mask, self.p, backend=kernel_backend("dropout_backward"))
        return dy * self.mask * dy.dtype.type(self.scale)
