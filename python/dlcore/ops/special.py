"""Special functions torch.Tensor has (lgamma, digamma, erfinv) with their derivatives.

SciPy's scipy.special computes them when it is installed (it is optional, as for erf in activation_more.py);
without it, NumPy formulas agree with SciPy to ~1e-11 relative (erfinv: ~1e-7 within 1e-6 of +-1, where erf is
flat and y itself carries that much relative error in x): math.lgamma per element; digamma and
trigamma by the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then their asymptotic series, with the
reflection formulas below 0.5; erfinv by Giles' (2010) single-precision approximation refined by Newton steps
(on log erfc in the tails). torch's conventions: digamma(0) = -inf, erfinv(+-1) = +-inf.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ._common import array_module


def _scipy_special():
    try:
        import scipy.special
    except ImportError:
        return None
    return scipy.special


# Bernoulli-number coefficients of the asymptotic series (Abramowitz & Stegun 6.3.18, 6.4.12)
_DIGAMMA_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
_TRIGAMMA_SERIES = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def _shifted(x, term):
    """(x moved up to >= 10, the sum of term(x_k) over the steps): the recurrences' shared part."""
    x = x.copy()
    total = np.zeros_like(x)
    while True:
        low = x < 10  # the series, truncated after 7 terms, is then good to ~1e-17
        if not low.any():
            return x, total
        total[low] += term(x[low])
        x[low] += 1


def digamma_numpy(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    reflect = x < 0.5
    y = np.where(reflect, 1 - x, x)
    y, recurrence = _shifted(y, lambda v: 1 / v)
    inv2 = 1 / (y * y)
    series = sum(c * inv2 ** (k + 1) for k, c in enumerate(_DIGAMMA_SERIES))
    out[:] = np.log(y) - 0.5 / y - series - recurrence
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(reflect, out - np.pi / np.tan(np.pi * x), out)
    out = np.where(x == 0, -np.inf, out)
    return np.where((x < 0) & (x == np.floor(x)), np.nan, out)  # the poles at negative integers


def trigamma_numpy(x):
    x = np.asarray(x, dtype=np.float64)
    reflect = x < 0.5
    y = np.where(reflect, 1 - x, x)
    y, recurrence = _shifted(y, lambda v: 1 / (v * v))
    inv = 1 / y
    series = sum(c * inv ** (2 * k + 3) for k, c in enumerate(_TRIGAMMA_SERIES))
    out = inv + 0.5 * inv * inv + series + recurrence
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(reflect, (np.pi / np.sin(np.pi * x)) ** 2 - out, out)
    return np.where((x <= 0) & (x == np.floor(x)), np.inf, out)  # the poles at 0 and the negative integers


def _erfinv_initial(x):
    """Giles' single-precision erfinv approximation ("Approximating the erfinv function", 2010)."""
    w = -np.log((1 - x) * (1 + x))
    central, tail = w - 2.5, np.sqrt(np.maximum(w, 5)) - 3
    p_central = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                            -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], central)
    p_tail = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], tail)
    return np.where(w < 5, p_central, p_tail) * x


_erfc_elementwise = np.vectorize(math.erfc, otypes=[np.float64])
_erf_elementwise = np.vectorize(math.erf, otypes=[np.float64])
_NEWTON_STEPS = 4


def _newton_step(y, a):
    """One Newton step for erf(y) = a, a = |x| >= 0: on erf itself below a = 0.5 (keeps tiny y's relative
    precision), on log erfc(y) = log(1 - a) above. 1 - a is exact there, and log erfc is nearly quadratic in y,
    so it converges from Giles' start even in the far tail, where erf(y) - a cancels to nothing and plain
    Newton on erfc crawled (|x| = 1 - 1e-15: 4% off after two steps)."""
    density = 2 / math.sqrt(math.pi) * np.exp(-y * y)
    central = (_erf_elementwise(y) - a) / density
    erfc = _erfc_elementwise(y)
    tail = (np.log(erfc) - np.log1p(-a)) * erfc / -density
    return np.where(a < 0.5, central, tail)


def erfinv_numpy(x):
    """erf^-1(x) in float64: Giles' approximation, refined by Newton steps (see _newton_step); exact to ~1e-15
    in the tails too (helper-dist's, checked against mpmath)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = _erfinv_initial(a)
        solvable = a < 1
        for _ in range(_NEWTON_STEPS):
            y_safe = np.where(solvable, y, 0.0)
            y = np.where(solvable, y_safe - _newton_step(y_safe, np.where(solvable, a, 0.0)), y)
        y = np.where(a == 1, np.inf, np.where(a > 1, np.nan, y))
    return np.copysign(y, x)


def lgamma_array(x):
    sp = _scipy_special()
    if sp is not None:
        return sp.gammaln(x)
    return np.vectorize(math.lgamma, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


def digamma_array(x):
    sp = _scipy_special()
    if sp is not None:
        return np.where(x == 0, -np.inf, sp.psi(x))
    return digamma_numpy(x)


def trigamma_array(x):
    sp = _scipy_special()
    return sp.polygamma(1, x) if sp is not None else trigamma_numpy(x)


def erfinv_array(y):
    sp = _scipy_special()
    return sp.erfinv(y) if sp is not None else erfinv_numpy(y)


def _host(fn, x):
    """fn on a host float64 copy, back in x's dtype and array module (CuPy arrays go through the host)."""
    xp = array_module(x)
    host = np.asarray(x.get() if xp is not np else x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(fn(host)).astype(x.dtype, copy=False)
    return out if xp is np else xp.asarray(out)


class Lgamma(Function):
    """log |Gamma(x)|; d/dx = digamma(x)."""

    def forward(self, x):
        self.x = x
        return _host(lgamma_array, x)

    def backward(self, g):
        return g * _host(digamma_array, self.x)

    def backward_graph(self, g):  # create_graph=True: the same derivative, on the tape
        return g * Digamma.apply(self.parents[0])


class Digamma(Function):
    """psi(x) = d/dx lgamma(x); d/dx = trigamma(x)."""

    def forward(self, x):
        self.x = x
        return _host(digamma_array, x)

    def backward(self, g):
        return g * _host(trigamma_array, self.x)

    def backward_graph(self, g):
        return g * Trigamma.apply(self.parents[0])


class Trigamma(Function):
    """psi'(x), digamma's derivative (its own derivative, psi'', is not implemented)."""

    def forward(self, x):
        return _host(trigamma_array, x)

    def backward(self, g):
        raise NotImplementedError("the derivative of trigamma (a third derivative of lgamma) is not implemented")


class Erfinv(Function):
    """The inverse of erf on (-1, 1); d/dy = sqrt(pi)/2 exp(erfinv(y)^2)."""

    saves_output = True

    def forward(self, y):
        self.out = _host(erfinv_array, y)
        return self.out

    def backward(self, g):
        xp = array_module(g)
        return g * (math.sqrt(math.pi) / 2) * xp.exp(self.out * self.out)

    def backward_graph(self, g):
        y = Erfinv.apply(self.parents[0])
        return g * (math.sqrt(math.pi) / 2) * (y * y).exp()


def lgamma(x):
    return Lgamma.apply(x)


def digamma(x):
    return Digamma.apply(x)


def erfinv(x):
    return Erfinv.apply(x)
