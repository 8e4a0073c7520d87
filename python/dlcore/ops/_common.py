"""Plumbing every op shares: the array module, the current backend, dtype dispatch.

**Dtype dispatch.** The kernels (``dlcore.kernels``) are float32-only by
contract. An op on float32 tensors calls its kernel with the current backend;
an op on float64 tensors (used for finite-difference gradient checks) runs
the op's NumPy formula, which is the mathematical reference. This is a
documented split by dtype, not a fallback: a float32 kernel failure raises.

**Backend gaps.** oneDNN has no primitive for a few ops of the kernel API
(``ONEDNN_GAPS``). Inside ``dlcore.backend("onednn")`` those ops run on our
CPU kernels (``"auto"``); this is listed in the docs and in
``dlcore.backends()["onednn"]["runs_on_ours"]``, and ``DLCORE_VERBOSE=1``
prints the implementation every call ran. ``dlcore.backend("onednn",
strict=True)`` raises ``BackendUnavailableError`` for them instead.
Max-pool backward is not a gap: under oneDNN the layer keeps the forward
input and runs oneDNN's own backward (``max_pool2d_backward_from_input``).

**CUDA gaps.** dlcore._cuda has no kernel for a few ops (``CUDA_GAPS``). On
CuPy arrays those ops run their array formula (the one float64 uses) with
CuPy, on the GPU; ``dlcore.backends()["cuda"]["runs_on_cupy"]`` lists them
and ``dlcore.backend(..., strict=True)`` raises for them instead.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_state = threading.local()

#: Kernel-API ops that dlcore._onednn does not define (no oneDNN primitive).
#: tests/test_functional.py checks this list against the built module.
ONEDNN_GAPS = frozenset({
    "maxout_forward", "maxout_backward",
    "cross_entropy_forward", "cross_entropy_backward",
    "dropout_forward", "dropout_backward",
})
#: Backend -> ops of that backend's gaps the functional layer runs on our kernels.
SUBSTITUTED_OPS = {"onednn": ONEDNN_GAPS}
#: Kernel-API ops that dlcore._cuda does not define: on CuPy arrays their CuPy formula runs.
#: tests/test_cuda_python.py checks this list against the built module.
CUDA_GAPS = frozenset({"maxout_forward", "maxout_backward"})


def array_module(*arrays):
    """``numpy`` for NumPy arrays, ``cupy`` when any array is a CuPy array (the ``xp`` idiom)."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
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


def current_backend() -> str:
    """The kernel backend ops run on: "auto" unless inside ``dlcore.backend(...)``."""
    return getattr(_state, "backend", "auto")


def backend_state() -> tuple:
    """(backend name, strict) in force; autograd runs each backward under the pair its forward saw."""
    return current_backend(), getattr(_state, "strict", False)


def kernel_backend(op: str) -> str:
    """The backend= that op `op` (a dlcore.kernels name) runs on under the current ``dlcore.backend``.

    The current backend, except for an op in that backend's documented gaps
    (``SUBSTITUTED_OPS``), which runs on our CPU kernels ("auto") - or raises
    ``BackendUnavailableError`` inside ``dlcore.backend(name, strict=True)``.
    """
    name = current_backend()
    if op in SUBSTITUTED_OPS.get(name, ()):
        if getattr(_state, "strict", False):
            from .._backends import BackendUnavailableError

            raise BackendUnavailableError(
                f"{op}: backend '{name}' does not implement this op (dlcore.backend('{name}', strict=True); "
                f"without strict=True it runs on dlcore's own CPU kernels)")
        return "auto"
    return name


@contextlib.contextmanager
def backend(name: str, *, strict: bool = False):
    """Run every op in the block on kernel backend `name` ("auto", "ref", "avx2", "avx512", "onednn", "cuda").

    Example:
        >>> model, x = dlcore.nn.Linear(3, 2), dlcore.randn(4, 3)
        >>> with dlcore.backend("ref"):   # or "avx2", "onednn", ...: dlcore.backends() lists them
        ...     y = model(x)

    An unavailable backend raises ``dlcore.BackendUnavailableError`` at the
    first kernel call. Ops that `name` has no implementation of (for
    "onednn": maxout, cross-entropy, dropout; see
    ``dlcore.backends()["onednn"]["runs_on_ours"]``) run on dlcore's own CPU
    kernels; with ``strict=True`` they raise ``BackendUnavailableError``.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, got {type(name).__name__}")
    previous = backend_state()
    _state.backend, _state.strict = name, bool(strict)
    try:
        yield name
    finally:
        _state.backend, _state.strict = previous


def cuda_gap(op: str, *arrays) -> bool:
    """True when `op` has no CUDA kernel (``CUDA_GAPS``) and `arrays` are on the GPU: run the CuPy formula.

    Inside ``dlcore.backend(name, strict=True)`` it raises BackendUnavailableError instead.
    """
    if op not in CUDA_GAPS or array_module(*arrays) is np:
        return False
    if getattr(_state, "strict", False):
        from .._backends import BackendUnavailableError

        raise BackendUnavailableError(f"{op}: dlcore._cuda has no kernel for this op (strict=True; without it "
                                      f"the op runs its CuPy array formula on the GPU)")
    return True


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
