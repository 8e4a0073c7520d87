"""Backend name -> the extension module that serves it. Checks live in C++."""
from __future__ import annotations

import numpy as np

from .. import _C
from .._backends import CPU_BACKENDS, CPU_EXTENSION_BACKENDS, OPTIONAL_MODULES, optional_module

_OUR_CPU = ("auto",) + CPU_BACKENDS + CPU_EXTENSION_BACKENDS


def is_device_array(x) -> bool:
    """True for CuPy (GPU) arrays; checked by type name so CuPy is never imported here."""
    return type(x).__module__.split(".")[0] == "cupy"


def module_for(backend: str, op: str, *arrays):
    """The module whose `op` runs `backend`; raises for unknown/unavailable ones.

    ``"auto"`` means our CPU module for NumPy arrays and our CUDA module when
    any of `arrays` is a CuPy array.
    """
    if backend == "auto" and all(type(a) is np.ndarray for a in arrays):
        return _C  # the common case, kept cheap: kernels on small arrays are call-overhead bound
    if not isinstance(backend, str):
        raise TypeError(f"{op}: backend must be a string, got {type(backend).__name__}")
    if backend == "auto" and any(is_device_array(a) for a in arrays):
        backend = "cuda"
    if backend in _OUR_CPU:
        return _C
    if backend in OPTIONAL_MODULES:
        module = optional_module(backend)
        if not hasattr(module, op):
            raise _C.BackendUnavailableError(f"{op}: backend '{backend}' does not implement this op")
        return module
    known = ", ".join(repr(b) for b in _OUR_CPU + tuple(OPTIONAL_MODULES))
    raise ValueError(f"{op}: unknown backend {backend!r} (expected one of {known})")


def last_dispatch(detail: bool = False):
    """'<op>:<implementation>' chosen by the last CPU kernel call on this thread.

    With ``detail=True``: a dict ``{"op", "implementation", "declined"}`` where ``declined`` lists
    ``(implementation, reason)`` for each faster entry of the registry that declined the arguments
    (e.g. conv's 1x1-as-GEMM and depthwise entries before the blocked one).
    """
    name = _C.last_dispatch()
    if not detail:
        return name
    op, _, impl = name.partition(":")
    return {"op": op, "implementation": impl, "declined": list(_C.last_dispatch_declined())}
