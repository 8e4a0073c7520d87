"""Gradient clipping (on the gradients' own device)."""
from __future__ import annotations

import numpy as np

from ..ops._common import array_module
from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scales all gradients together so their global norm is at most max_norm; returns the norm before."""
    grads = _grads(parameters)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == np.inf:
        total = max(float(array_module(g.data).abs(g.data).max()) for g in grads)
    else:  # each gradient's sum of powers on its device, in float64; one float per tensor comes to the host
        powers = (float((array_module(g.data).abs(g.data.astype(np.float64)) ** norm_type).sum()) for g in grads)
        total = float(sum(powers) ** (1.0 / norm_type))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g.data *= g.data.dtype.type(coef)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamps every gradient element into [-clip_value, clip_value]."""
    for g in _grads(parameters):
        array_module(g.data).clip(g.data, -clip_value, clip_value, out=g.data)


from . import prune  # noqa: E402, F401  (re-exported: dlcore.nn.utils.prune, magnitude pruning)
