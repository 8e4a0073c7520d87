"""Finite-difference gradient check for any function of Tensors (float64)."""
from __future__ import annotations

import numpy as np


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0):
    """Compares autograd gradients of ``fn(*inputs)`` with central differences.

    ``fn`` returns a Tensor; the scalar checked is ``sum(out * w)`` with a fixed
    random ``w`` (so every output element matters with a distinct weight).
    Every input that requires grad must be float64. Returns True or raises
    AssertionError naming the input and the worst element.
    """
    from ..tensor import Tensor

    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    weight = rng.standard_normal(out.shape)

    def scalar():
        return float(np.sum(np.asarray(fn(*inputs)._data, dtype=np.float64) * weight))

    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            if t._data.dtype != np.float64:
                raise TypeError(f"gradcheck needs float64 inputs, got {t._data.dtype}")
            t.grad = None
    out = fn(*inputs)
    out.backward(Tensor(weight.astype(out._data.dtype)))
    for index, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        numeric = _central_differences(scalar, t._data, eps)
        analytic = np.zeros_like(numeric) if t.grad is None else np.asarray(t.grad._data)
        err = np.abs(analytic - numeric)
        bound = atol + rtol * np.abs(numeric)
        if not np.all(err <= bound):
            worst = np.unravel_index(np.argmax(err - bound), err.shape)
            raise AssertionError(f"gradcheck: input {index} (shape {t.shape}) gradient off at {worst}: "
                                 f"autograd {analytic[worst]!r}, finite differences {numeric[worst]!r}")
    return True


def _central_differences(scalar, array, eps):
    grad = np.zeros(array.shape, dtype=np.float64)
    it = np.nditer(array, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        idx = it.multi_index
        old = array[idx].copy()
        array[idx] = old + eps
        plus = scalar()
        array[idx] = old - eps
        minus = scalar()
        array[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad
