"""GELU and SiLU: NumPy/CuPy formulas for every dtype (dlcore.kernels has no kernel for them).

GELU(x) = x * Phi(x) with Phi the standard normal CDF (``approximate="none"``,
through erf) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``"tanh"``).
SiLU(x) = x * sigmoid(x).
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
