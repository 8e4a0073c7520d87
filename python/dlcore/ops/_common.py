"""Plumbing every op shares: the array module, strided views, dtype dispatch.

Backend state (``dlcore.backend``, ``kernel_backend``), the gap tables
(``ONEDNN_GAPS``, ``CUDA_GAPS``) and module loading live in
``dlcore/_backends.py``, the one backends module; they are re-exported here
for the ops, which import them from this module. Dependencies point one way:
this module imports ``_backends``, never the reverse.

**Dtype dispatch.** The kernels (``dlcore.kernels``) are float32-only by
contract. An op on float32 tensors calls its kernel with the current backend;
an op on float64 tensors (used for finite-difference gradient checks) runs
the op's NumPy formula, which is the mathematical reference. This is a
documented split by dtype, not a fallback: a float32 kernel failure raises.
"""
from __future__ import annotations

import numpy as np

# Re-exported for the ops (`from ._common import kernel_backend`): owned by dlcore._backends.
from .._backends import (  # noqa: F401
    CUDA_GAPS,
    ONEDNN_GAPS,
    SUBSTITUTED_OPS,
    backend,
    backend_state,
    cuda_gap,
    current_backend,
    kernel_backend,
)
from .._device import is_cuda_array


def array_module(*arrays):
    """``numpy`` for NumPy arrays, ``cupy`` when any array is a CuPy array (the ``xp`` idiom)."""
    for a in arrays:
        if is_cuda_array(a):
            import cupy

            return cupy
    return np


def as_strided(x, shape, strides):
    """Read-only strided view of `x` (NumPy or CuPy; CuPy's as_strided has no ``writeable`` flag)."""
    xp = array_module(x)
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def put_along_axis(target, indices, values, axis):
    """target[..., indices, ...] = values along `axis` (np.put_along_axis; spelled out for CuPy)."""
    xp = array_module(target)
    if hasattr(xp, "put_along_axis"):
        xp.put_along_axis(target, indices, values, axis=axis)
        return target
    # CuPy releases without put_along_axis: the full index, one broadcast arange per other axis
    index = list(xp.ix_(*[xp.arange(n) for n in indices.shape]))
    index[axis] = indices
    target[tuple(index)] = values
    return target


_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)  # compared, not hashed (a dtype's hash is slow)


def uses_kernels(*arrays) -> bool:
    """True when the op must run on dlcore.kernels: all floating inputs are float32 (and there is one)."""
    found = False
    for a in arrays:  # a loop, not comprehensions: this runs for every op (call overhead)
        if a is not None:
            dtype = a.dtype
            if dtype.kind == "f":
                if dtype != _FLOAT32:
                    return False
                found = True
    return found


def contiguous(a):
    """C-contiguous version of `a` (the kernels reject strided views); no copy when already dense."""
    if type(a) is np.ndarray:  # the common case first: array_module's dispatch costs 0.5 us a call
        return np.ascontiguousarray(a)
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
    add_at = getattr(array_module(target).add, "at", None)
    if add_at is not None:
        add_at(target, index, values)
    else:  # pragma: no cover - CuPy before 13 has no add.at
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
