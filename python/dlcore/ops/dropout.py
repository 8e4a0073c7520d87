"""Inverted dropout: y = x * mask / (1 - p), mask ~ Bernoulli(1 - p)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._common import array_module


class Dropout(Function):
    def forward(self, x, p, seed):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        xp = array_module(x)
        # TODO(kernel): switch float32 to dlcore.kernels.dropout_forward (Philox, keyed by seed) when it lands
        rng = np.random.default_rng(seed)
        self.mask = xp.asarray(rng.random(x.shape) >= p).astype(np.uint8)
        self.scale = 1.0 / (1.0 - p)
        return x * self.mask * x.dtype.type(self.scale)

    def backward(self, dy):
        # TODO(kernel): switch float32 to dlcore.kernels.dropout_backward when it lands
        return dy * self.mask * dy.dtype.type(self.scale)
