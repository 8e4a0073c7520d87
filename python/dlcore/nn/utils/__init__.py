"""Gradient clipping (on the gradients' own device); `rnn`: packed variable-length sequences."""
from __future__ import annotations

import numpy as np

from ...ops._common import array_module
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients together so their global norm is at most max_norm; returns the norm before,
    as a 0-d Tensor of the gradients' dtype (PyTorch's: ``clip_grad_norm_(...).item()`` is a common log
    line). ``error_if_nonfinite`` raises on a nan/inf norm; ``foreach`` is accepted and ignored."""
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == np.inf:
        total = max(float(array_module(g._data).abs(g._data).max()) for g in grads)
    else:  # each gradient's sum of powers on its device, in float64; one float per tensor comes to the host
        powers = (float((array_module(g._data).abs(g._data.astype(np.float64)) ** norm_type).sum()) for g in grads)
        total = float(sum(powers) ** (1.0 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           f"it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           f"norm anyway, set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g._data *= g._data.dtype.type(coef)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clamps every gradient element into [-clip_value, clip_value]."""
    for g in _grads(parameters):
        array_module(g._data).clip(g._data, -clip_value, clip_value, out=g._data)


from .. import prune  # noqa: E402, F401  (re-exported: dlcore.nn.utils.prune, magnitude pruning)
from . import rnn  # noqa: E402, F401  (dlcore.nn.utils.rnn: PackedSequence and its helpers, torch's names)
