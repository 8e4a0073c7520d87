"""Plumbing every op shares: the array module, the current backend, dtype dispatch.

**Dtype dispatch.** The kernels (``dlcore.kernels``) are float32-only by
contract. An op on float32 tensors calls its kernel with the current backend;
an op on float64 tensors (used for finite-difference gradient checks) runs
the op's NumPy formula, which is the mathematical reference. This is a
documented split by dtype, not a fallback: a float32 kernel failure raises.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_state = threading.local()


def array_module(*arrays):
    """``numpy`` for NumPy arrays, ``cupy`` when any array is a CuPy array (the ``xp`` idiom)."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
            import cupy

            return cupy
    return np


def current_backend() -> str:
    """The kernel backend ops run on: "auto" unless inside ``dlcore.backend(...)``."""
    return getattr(_state, "backend", "auto")


@contextlib.contextmanager
def backend(name: str):
    """Run every op in the block on kernel backend `name` ("auto", "ref", "avx2", "avx512", "onednn", "cuda").

    Example:
        >>> with dlcore.backend("onednn"):
        ...     y = model(x)
    An unavailable backend raises ``dlcore.BackendUnavailableError`` at the first kernel call.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, got {type(name).__name__}")
    previous = current_backend()
    _state.backend = name
    try:
        yield name
    finally:
        _state.backend = previous


def uses_kernels(*arrays) -> bool:
    """True when the op must run on dlcore.kernels: all floating inputs are float32."""
    floats = [a for a in arrays if a is not None and a.dtype.kind == "f"]
    return bool(floats) and all(a.dtype == np.float32 for a in floats)


def contiguous(a):
    """C-contiguous version of `a` (the kernels reject strided views); no copy when already dense."""
    if a is None:
        return None
    return array_module(a).ascontiguousarray(a)


def unbroadcast(grad, shape):
    """Sums `grad` over the axes that broadcasting expanded to reach its shape from `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def scatter_add(target, index, values):
    """target[index] += values, accumulating repeated indices (np.add.at / cupyx.scatter_add)."""
    xp = array_module(target)
    if xp is np:
        np.add.at(target, index, values)
    else:  # pragma: no cover - needs a GPU
        import cupyx

        cupyx.scatter_add(target, index, values)
    return target


def pair(value, name="argument"):
    """An int or a 2-sequence -> a tuple of two ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {value}")
    return value
