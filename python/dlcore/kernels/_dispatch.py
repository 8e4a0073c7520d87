"""Backend name -> the extension module that serves it. Checks live in C++."""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import _C
from .._backends import CPU_BACKENDS, CPU_EXTENSION_BACKENDS, OPTIONAL_MODULES, optional_module
from .._device import is_cuda_array

_OUR_CPU = ("auto",) + CPU_BACKENDS + CPU_EXTENSION_BACKENDS


def module_for(backend: str, op: str, *arrays):
    """The module whose `op` runs `backend`; raises for unknown/unavailable ones.

    ``"auto"`` means our CPU module for NumPy arrays and our CUDA module when
    any of `arrays` is a CuPy array.
    """
    if backend == "auto":
        # The common case, kept cheap: kernels on small arrays are call-overhead bound. A plain loop, not
        # all() over a generator: 0.7 against 1.8 us a call (2026-12-06, this 2-core EPYC, under load).
        for a in arrays:
            if type(a) is not np.ndarray:
                break
        else:
            return _C
    if not isinstance(backend, str):
        raise TypeError(f"{op}: backend must be a string, got {type(backend).__name__}")
    if backend == "auto" and any(is_cuda_array(a) for a in arrays):
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


# ---- scalar hyper-parameters: converted once here, for every backend module ----------------------------------
# The extension functions take C++ int64/double/bool: a value pybind11 cannot convert would raise its
# "incompatible function arguments" list, and int(2.5) / bool("no") would pass silently. These name the
# argument instead (ranges - positive, finite... - stay with the C++ checks).


def int_arg(value, op: str, name: str) -> int:
    """`value` as an int64 (anything with __index__ but bool), else TypeError/ValueError naming `name`."""
    if type(value) is int and -(2**63) <= value < 2**63:  # the common case, kept cheap (call overhead)
        return value
    if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    v = operator.index(value)
    if not -(2**63) <= v < 2**63:
        raise ValueError(f"{op}: {name} = {v} is outside the int64 range")
    return v


def float_arg(value, op: str, name: str) -> float:
    """`value` as a float (a real number, not bool), else TypeError naming `name`."""
    if type(value) is float:  # the common case, kept cheap: the ABC check below costs ~1 us
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def bool_arg(value, op: str, name: str) -> bool:
    """`value` as a bool (a bool, or the ints 0 and 1), else TypeError naming `name`."""
    if value is True or value is False:
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if hasattr(type(value), "__index__") and operator.index(value) in (0, 1):
        return bool(operator.index(value))
    raise TypeError(f"{op}: {name} must be a bool, got {type(value).__name__} {value!r}"[:200])
