"""``dlcore.special`` (torch.special): special functions over dlcore Tensors, each differentiable.

Composed from dlcore's own Functions (ops/special.py's lgamma / digamma / erfinv, erf, the distributions'
regularized incomplete gamma). Not here: the Bessel functions, the orthogonal polynomials, zeta, erfcx,
polygamma of order >= 2.
"""
from __future__ import annotations

import math

from . import functions as _f
from .ops import special as _special
from .tensor import Tensor

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
           "gammaln", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy"]


def _float(x):
    """x as a floating Tensor (integers give float32, as torch's special functions)."""
    if not isinstance(x, Tensor):
        x = _f.tensor(x)
    return x if x.dtype.kind == "f" else x.float()


def digamma(input):
    return _special.digamma(_float(input))


psi = digamma


def gammaln(input):
    return _special.lgamma(_float(input))


def erfinv(input):
    return _special.erfinv(_float(input))


def erf(input):
    return _float(input).erf()


def erfc(input):
    return _float(input).erfc()


def expit(input):
    return _float(input).sigmoid()


def logit(input, eps=None):
    return _f.logit(_float(input), eps)


def exp2(input):
    return _float(input).exp2()


def expm1(input):
    return _float(input).expm1()


def log1p(input):
    return _float(input).log1p()


def round(input, decimals=0):
    return input.round(decimals=decimals)


def sinc(input):
    return _float(input).sinc()


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)


def softmax(input, dim, dtype=None):
    out = input.softmax(dim)
    return out if dtype is None else out.to(dtype)


def log_softmax(input, dim, dtype=None):
    out = input.log_softmax(dim)
    return out if dtype is None else out.to(dtype)


def xlogy(input, other):
    return _f.xlogy(input, other)


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (even where log1p(other) is infinite), as torch."""
    input, other = _float(input), _float(other)
    safe = _f.where(input == 0, other * 0, other)
    return _f.where(input == 0, input * 0, input * safe.log1p())


def entr(input):
    """-x log x for x > 0, 0 at 0, -inf below (the elementwise entropy)."""
    x = _float(input)
    positive = x > 0
    safe = _f.where(positive, x, x * 0 + 1)
    inner = _f.where(positive, -x * safe.log(), x * 0)
    return _f.where(x < 0, x * 0 - math.inf, inner)


def ndtr(input):
    """The standard normal CDF."""
    return 0.5 * (1 + (_float(input) / math.sqrt(2)).erf())


def log_ndtr(input):
    """log of the standard normal CDF, through erfc (accurate in the lower tail until erfc underflows:
    x > -26 in float64, x > -13 in float32)."""
    return (0.5 * (-_float(input) / math.sqrt(2)).erfc()).log()


def ndtri(input):
    """The standard normal quantile function (the inverse of ndtr)."""
    return math.sqrt(2) * _special.erfinv(2 * _float(input) - 1)


def multigammaln(input, p):
    """log of the multivariate gamma function of dimension p."""
    if int(p) < 1:
        raise ValueError(f"multigammaln: p must be >= 1, got {p}")
    a = _float(input)
    total = p * (p - 1) / 4 * math.log(math.pi)
    for j in range(int(p)):
        total = total + _special.lgamma(a - j / 2)
    return total


def polygamma(n, input):
    """The n-th derivative of digamma, for n = 0 (digamma) and n = 1 (trigamma)."""
    if n == 0:
        return digamma(input)
    if n == 1:
        return _special.Trigamma.apply(_float(input))
    raise NotImplementedError(f"polygamma: order {n} is not implemented (0 and 1 are)")


def gammainc(input, other):
    """The regularized lower incomplete gamma function P(a, x) (a = input, x = other)."""
    from .distributions._special import RegularizedGammaP

    return RegularizedGammaP.apply(_float(input), _float(other))


def gammaincc(input, other):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return 1 - gammainc(input, other)
