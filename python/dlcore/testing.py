"""``dlcore.testing`` (torch.testing): ``assert_close`` and ``make_tensor`` for the tests of ported code.

``assert_close(actual, expected)`` compares Tensors, NumPy/CuPy arrays, numbers and (nested) sequences or
mappings of them with torch's rule |actual - expected| <= atol + rtol * |expected|, elementwise, and torch's
default tolerances per dtype; its failure message says how many elements differ, the greatest absolute and
relative differences and where.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["assert_close", "make_tensor"]

#: (rtol, atol) by dtype name: torch.testing's defaults.
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _as_numpy(value):
    from .tensor import Tensor

    if isinstance(value, Tensor):
        value = value._data
    if hasattr(value, "get") and type(value).__module__.split(".")[0] == "cupy":
        return value.get()
    return np.asarray(value)


def _kind(value):
    from .tensor import Tensor

    if isinstance(value, Tensor):
        return "Tensor"
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return "array"
    if isinstance(value, (numbers.Number, np.generic)):
        return "number"
    return type(value).__name__


def _default_tolerances(*dtypes):
    pairs = [_TOLERANCES.get(str(d), (0.0, 0.0)) for d in dtypes]  # integers and bools compare exactly
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _fail(msg, default):
    raise AssertionError(default if msg is None else (msg(default) if callable(msg) else msg))


def _compare_arrays(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, where, msg, kinds):
    from .tensor import Tensor

    both_tensors = isinstance(actual, Tensor) and isinstance(expected, Tensor)
    if check_device and both_tensors and actual.device != expected.device:
        _fail(msg, f"The values{where} are on different devices: {actual.device} and {expected.device}.")
    a, e = _as_numpy(actual), _as_numpy(expected)
    if a.shape != e.shape:
        _fail(msg, f"The values{where} do not have the same shape: {a.shape} != {e.shape}.")
    if check_dtype and kinds != ("number", "number") and a.dtype != e.dtype:
        _fail(msg, f"The values{where} do not have the same dtype: {a.dtype} != {e.dtype}.")
    if rtol is None:
        rtol, atol = _default_tolerances(a.dtype, e.dtype)
    a64, e64 = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64), \
        e.astype(np.complex128 if np.iscomplexobj(e) else np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, NaN: judged below
        diff = np.abs(a64 - e64)
        close = diff <= atol + rtol * np.abs(e64)
    both_nan = np.isnan(a64) & np.isnan(e64)
    close |= (a64 == e64)  # equal infinities
    if equal_nan:
        close |= both_nan
    if close.all():
        return
    bad = ~close
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(e64) > 0, diff / np.abs(e64), np.inf)
    worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1)), diff.shape)
    worst_rel = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(rel, nan=np.inf), -1)), diff.shape)
    _fail(msg, f"Tensor-likes{where} are not close!\n\n"
               f"Mismatched elements: {int(bad.sum())} / {bad.size} ({100 * bad.sum() / max(bad.size, 1):.1f}%)\n"
               f"Greatest absolute difference: {diff[worst]} at index {tuple(int(i) for i in worst)} "
               f"(up to {atol} allowed)\n"
               f"Greatest relative difference: {rel[worst_rel]} at index {tuple(int(i) for i in worst_rel)} "
               f"(up to {rtol} allowed)")


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raises AssertionError unless `actual` and `expected` are close (torch.testing.assert_close).

    Give both `rtol` and `atol` or neither (then torch's defaults for the dtypes: float32 1.3e-6 / 1e-5,
    float64 1e-7 / 1e-7, bfloat16 1.6e-2 / 1e-5, integers exact). Sequences and mappings are compared
    element by element, and must have the same length / keys. ``msg``: a string, or a callable taking the
    default message.
    """
    del check_layout, check_stride  # dense, contiguous arrays only: nothing to compare
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    _compare(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, allow_subclasses, msg, "")


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, allow_subclasses, msg, where):
    kinds = (_kind(actual), _kind(expected))
    if isinstance(actual, dict) or isinstance(expected, dict):
        if not (isinstance(actual, dict) and isinstance(expected, dict)) or set(actual) != set(expected):
            _fail(msg, f"The mappings{where} do not have the same keys.")
        for key in expected:
            _compare(actual[key], expected[key], rtol, atol, equal_nan, check_dtype, check_device, allow_subclasses,
                     msg, f"{where}[{key!r}]")
        return
    if isinstance(actual, (list, tuple)) or isinstance(expected, (list, tuple)):
        if not (isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple))) or \
                len(actual) != len(expected):
            _fail(msg, f"The sequences{where} do not have the same length.")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol, atol, equal_nan, check_dtype, check_device, allow_subclasses, msg, f"{where}[{i}]")
        return
    numeric = {"Tensor", "array", "number"}
    if kinds[0] not in numeric or kinds[1] not in numeric:
        if actual != expected:
            _fail(msg, f"The values{where} are not equal: {actual!r} != {expected!r}.")
        return
    if kinds[0] != kinds[1] and not allow_subclasses:
        _fail(msg, f"The values{where} are of different kinds: {kinds[0]} and {kinds[1]}.")
    if kinds[0] != kinds[1] and "number" not in kinds:
        _fail(msg, f"The values{where} are of different types: {type(actual).__name__} and "
                   f"{type(expected).__name__}.")
    _compare_arrays(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, where, msg, kinds)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, seed=None):
    """A Tensor of `shape` with uniform random values in [low, high) (torch.testing.make_tensor's defaults:
    [-9, 9) for floating dtypes, [-9, 10) for integers, {False, True} for bool), from dlcore's global
    generator unless `seed`. ``exclude_zero`` replaces zeros by the smallest positive step."""
    from . import random as _random
    from .tensor import Tensor

    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    gen = np.random.default_rng(seed) if seed is not None else _random.default_generator()
    np_dtype = np.dtype(getattr(dtype, "name", dtype)) if not isinstance(dtype, np.dtype) else dtype
    if np_dtype == np.bool_:
        data = gen.integers(0, 2, size=shape).astype(bool)
    elif np_dtype.kind in "iu":
        lo = max(-9 if low is None else int(np.ceil(low)), np.iinfo(np_dtype).min)
        hi = min(10 if high is None else int(np.ceil(high)), np.iinfo(np_dtype).max)
        data = gen.integers(lo, hi, size=shape).astype(np_dtype)
        if exclude_zero:
            data[data == 0] = 1
    else:
        lo, hi = -9.0 if low is None else float(low), 9.0 if high is None else float(high)
        if not lo < hi:
            raise ValueError(f"make_tensor: low ({lo}) must be smaller than high ({hi})")
        data = gen.uniform(lo, hi, size=shape).astype(np_dtype)
        if exclude_zero:
            data[data == 0] = np.finfo(np_dtype).tiny
    if noncontiguous and data.size > 1:
        wide = np.repeat(data, 2, axis=-1) if data.ndim else data
        data = wide[..., ::2]
    t = Tensor(data, requires_grad=requires_grad)
    return t.to(device) if device not in (None, "cpu") else t
