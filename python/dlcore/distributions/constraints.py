"""Constraints: where a parameter or a value may lie (torch.distributions.constraints, the common ones).

A constraint's ``check(value)`` returns a NumPy bool array over the value's batch dims (its last ``event_dim``
dims are one event, checked as a whole); ``Distribution`` turns a False into a ValueError.
"""
from __future__ import annotations

import numpy as np


def _array(value):
    """The values as a float64 NumPy array (Tensors, numbers and arrays alike): checks never run on the tape."""
    data = getattr(value, "_data", value)
    if hasattr(data, "get"):  # CuPy: check on the host
        data = data.get()
    return np.asarray(data, dtype=np.float64)


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__.lstrip("_") + "()"


class _Real(Constraint):
    def check(self, value):
        return ~np.isnan(_array(value))


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return _array(value) > _array(self.lower_bound)

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return _array(value) >= _array(self.lower_bound)

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    """lower <= value <= upper (``half_open``: value < upper)."""

    def __init__(self, lower_bound, upper_bound, half_open=False):
        self.lower_bound, self.upper_bound, self.half_open = lower_bound, upper_bound, half_open

    def check(self, value):
        v = _array(value)
        below_upper = v < _array(self.upper_bound) if self.half_open else v <= _array(self.upper_bound)
        return (v >= _array(self.lower_bound)) & below_upper

    def __repr__(self):
        kind = "HalfOpenInterval" if self.half_open else "Interval"
        return f"{kind}(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _LeftOpenUnitInterval(Constraint):
    def check(self, value):
        v = _array(value)
        return (v > 0) & (v <= 1)

    def __repr__(self):
        return "Interval(lower_bound=0.0 (excluded), upper_bound=1.0)"


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value):
        return super().check(value) & (_array(value) % 1 == 0)

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThanEq(_GreaterThanEq):
    is_discrete = True

    def check(self, value):
        return super().check(value) & (_array(value) % 1 == 0)

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        v = _array(value)
        return (v == 0) | (v == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        v = _array(value)
        return ((v == 0) | (v == 1)).all(-1) & (v.sum(-1) == 1)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        v = _array(value)
        return (v >= 0).all(-1) & (np.abs(v.sum(-1) - 1) < 1e-6)


class _LowerCholesky(Constraint):
    """Lower-triangular with a positive diagonal."""
    event_dim = 2

    def check(self, value):
        v = _array(value)
        lower = (np.triu(v, 1) == 0).all((-2, -1))
        return lower & (np.diagonal(v, axis1=-2, axis2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, value):
        v = _array(value)
        symmetric = np.isclose(v, np.swapaxes(v, -1, -2), atol=1e-6).all((-2, -1))
        return symmetric & _is_positive_definite(v)


def _is_positive_definite(matrices):
    """Per matrix of a stack: one batched Cholesky when all succeed, one per matrix to find which failed."""
    try:
        np.linalg.cholesky(matrices)
        return np.ones(matrices.shape[:-2], dtype=bool)
    except np.linalg.LinAlgError:
        flat = matrices.reshape((-1,) + matrices.shape[-2:])
        return np.array([_one_is_positive_definite(m) for m in flat], dtype=bool).reshape(matrices.shape[:-2])


def _one_is_positive_definite(matrix):
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


class _Independent(Constraint):
    """A base constraint with its rightmost ``reinterpreted_batch_ndims`` dims checked as one event."""

    def __init__(self, base, reinterpreted_batch_ndims):
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def check(self, value):
        ok = self.base.check(value)
        return ok.all(tuple(range(-self.reinterpreted_batch_ndims, 0))) if self.reinterpreted_batch_ndims else ok

    def __repr__(self):
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


real = _Real()
real_vector = _Independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
left_open_unit_interval = _LeftOpenUnitInterval()
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThanEq(0)
simplex = _Simplex()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
interval = _Interval
integer_interval = _IntegerInterval
independent = _Independent


def half_open_interval(lower_bound, upper_bound):
    return _Interval(lower_bound, upper_bound, half_open=True)
