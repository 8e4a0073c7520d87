"""Activations without a dlcore.kernels kernel: NumPy/CuPy formulas for every dtype, each with its closed-form
derivative (torch.nn.functional's definitions, its choices at the kinks included).

GELU(x) = x * Phi(x) with Phi the standard normal CDF (``approximate="none"``,
through erf) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``"tanh"``).
SiLU(x) = x * sigmoid(x). Softplus, Mish, LogSigmoid, Softsign, Hardtanh (ReLU6), Hardsigmoid, Hardswish.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ._common import array_module

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def erf(x):
    """Elementwise erf: scipy.special.erf / cupyx when present, else math.erf per element (same values, slower)."""
    xp = array_module(x)
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:  # NumPy has no erf; math.erf element by element gives the same values
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    return scipy_erf(x).astype(x.dtype, copy=False)


def _sigmoid(xp, x):
    return 0.5 * (1 + xp.tanh(0.5 * x))  # no overflow for large |x|


class GELU(Function):
    def forward(self, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.x, self.approximate = x, approximate
        xp = array_module(x)
        if approximate == "tanh":
            self.t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        return x * self.cdf

    def backward(self, dy):
        xp, x = array_module(dy), self.x
        if self.approximate == "tanh":
            t = self.t
            return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return dy * (self.cdf + x * pdf)


class SiLU(Function):
    def forward(self, x):
        xp = array_module(x)
        self.x, self.s = x, _sigmoid(xp, x)
        return x * self.s

    def backward(self, dy):
        s = self.s
        return dy * (s * (1 + self.x * (1 - s)))


def _softplus(xp, z):
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's linear region)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        xp = array_module(x)
        z = x * beta
        self.beta, self.threshold = beta, threshold  # for double backward (double_backward_more)
        self.linear, self.s = z > threshold, _sigmoid(xp, z)
        return xp.where(self.linear, x, _softplus(xp, z) / beta).astype(x.dtype, copy=False)

    def backward(self, dy):
        return array_module(dy).where(self.linear, dy, dy * self.s)


class Mish(Function):
    """x tanh(softplus(x))."""

    def forward(self, x):
        xp = array_module(x)
        self.x, self.t, self.s = x, xp.tanh(_softplus(xp, x)), _sigmoid(xp, x)
        return x * self.t

    def backward(self, dy):
        t = self.t
        return dy * (t + self.x * self.s * (1 - t * t))


class LogSigmoid(Function):
    """log(sigmoid(x)) = -softplus(-x)."""

    def forward(self, x):
        xp = array_module(x)
        self.s_neg = _sigmoid(xp, -x)
        return -_softplus(xp, -x)

    def backward(self, dy):
        return dy * self.s_neg


class Softsign(Function):
    """x / (1 + |x|)."""

    def forward(self, x):
        self.d = 1 + array_module(x).abs(x)
        return x / self.d

    def backward(self, dy):
        return dy / (self.d * self.d)


class Hardtanh(Function):
    """clip(x, min_val, max_val); gradient 1 strictly inside (torch's choice at the ends: 0)."""

    def forward(self, x, min_val=-1.0, max_val=1.0):
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.inside = (x > min_val) & (x < max_val)
        return array_module(x).clip(x, min_val, max_val)

    def backward(self, dy):
        return dy * self.inside


class Hardsigmoid(Function):
    """clip(x / 6 + 1/2, 0, 1); gradient 1/6 on (-3, 3)."""

    def forward(self, x):
        self.inside = (x > -3) & (x < 3)
        return array_module(x).clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    def backward(self, dy):
        return dy * self.inside / 6


class Hardswish(Function):
    """x clip(x + 3, 0, 6) / 6; gradient 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on (torch's ends)."""

    def forward(self, x):
        self.x = x
        return (x * array_module(x).clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, dy):
        xp, x = array_module(dy), self.x
        return xp.where(x <= -3, 0, xp.where(x < 3, dy * (x / 3 + 0.5), dy)).astype(dy.dtype, copy=False)
