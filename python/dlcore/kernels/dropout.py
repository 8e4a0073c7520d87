"""Dropout with a counter-based generator (Philox-4x32, 8 rounds).

The mask depends only on (seed, element index): the same seed gives the same
mask for any thread count and any backend (CPU or CUDA). Element
128*g + 16*k + j (k < 8, j < 16) uses the 16-bit half k % 2 (0 = low) of word
k // 2 of Philox(counter=16*g + j, key=seed), u16; it is kept when
u16 >= ceil(p * 2**16). The keep probability is therefore 1 - p rounded to
a multiple of 2**-16 (exact for p = 0.5, 0.25, ...): 16 bits per element
halve the generator's cost, which bounds the CPU forward pass; so does
running 8 Philox rounds instead of Random123's default 10 (7 already pass
BigCrush; csrc/ops/dropout/dropout.h has the measurements).
"""
from __future__ import annotations

import numpy as np

from ._dispatch import float_arg, module_for

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, p, seed, *, backend="auto"):
    """(y, mask): y = x * mask / (1 - p), mask uint8 (1 = kept, probability 1 - p).

    Args:
        x: float32, any shape.
        p: drop probability in [0, 1] (p = 1 drops everything: y = 0).
        seed: integer in [0, 2**64) keying the generator.

    Example:
        >>> y, mask = dlcore.kernels.dropout_forward(np.ones(4, np.float32), 0.5, seed=0)
        >>> sorted(set(y.tolist()) | {0.0, 2.0})
        [0.0, 2.0]
    """
    p = float_arg(p, "dropout_forward", "p")
    if isinstance(seed, (bool, np.bool_)) or not hasattr(type(seed), "__index__"):
        raise TypeError(f"dropout_forward: seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"dropout_forward: seed = {int(seed)} must be in [0, 2**64)")
    return module_for(backend, "dropout_forward", x).dropout_forward(x, float(p), int(seed), backend)


def dropout_backward(dy, mask, p, *, backend="auto"):
    """dx = dy * mask / (1 - p), with the forward's uint8 mask."""
    p = float_arg(p, "dropout_backward", "p")
    return module_for(backend, "dropout_backward", dy, mask).dropout_backward(dy, mask, float(p), backend)
