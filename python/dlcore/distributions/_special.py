"""The matrix ops and incomplete-gamma machinery the distributions need, as autograd Functions on NumPy arrays
(lgamma, digamma, erfinv are dlcore.ops.special's). Cholesky's backward is torch's (``cholesky_backward``,
after Murray 2016); the triangular solve's is the usual X = L^-1 B adjoint.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..ops._common import unbroadcast
from ..ops.special import Digamma, Erfinv, Lgamma, digamma, digamma_array, erfinv, lgamma, lgamma_array  # noqa: F401


def _swap(m):
    return np.swapaxes(m, -1, -2)


def _solve_lower(lower, b):
    """L^-1 B for lower-triangular L, batched (NumPy has no triangular solver; the general one is exact here)."""
    return np.linalg.solve(lower, b)


class Cholesky(Function):
    """The lower Cholesky factor of a symmetric positive-definite matrix (batched)."""

    def forward(self, a):
        try:
            self.lower = np.linalg.cholesky(a)
        except np.linalg.LinAlgError as err:
            # NumPy's LinAlgError (a ValueError): what dlcore.linalg.LinAlgError names, as torch's own
            raise np.linalg.LinAlgError(f"cholesky: the matrix (shape {a.shape}) is not positive-definite") from err
        return self.lower

    def backward(self, g):
        lower = self.lower
        # torch's cholesky_backward: gA = L^-H Phi(L^H gL) L^-1, with Phi symmetrising the lower triangle
        ga = np.tril(_swap(lower) @ g)
        ga = 0.5 * (ga + _swap(np.tril(ga, -1)))
        upper = _swap(lower)
        ga = np.linalg.solve(upper, ga)  # L^-H (.)
        return _swap(np.linalg.solve(upper, _swap(ga)))  # (.) L^-1

    def backward_graph(self, g):
        """The same formula with Tensor ops (create_graph=True)."""
        lower = Cholesky.apply(self.parents[0])
        upper = lower.transpose(-1, -2)
        ga = (upper @ g).tril()
        ga = 0.5 * (ga + ga.tril(-1).transpose(-1, -2))
        ga = _solve_upper_on_tape(upper, ga)
        return _solve_upper_on_tape(upper, ga.transpose(-1, -2)).transpose(-1, -2)


class SolveLowerTriangular(Function):
    """X = L^-1 B with L lower-triangular (only its lower triangle is read), batched over leading dims."""

    def forward(self, lower, b):
        self.lower = np.tril(lower)
        self.x = _solve_lower(self.lower, b)
        return self.x

    def backward(self, g):
        gb = np.linalg.solve(_swap(self.lower), g)  # L^-T gX
        gl = -np.tril(gb @ _swap(self.x)) if self.needs_input_grad[0] else None
        if gl is not None and gl.shape != self.lower.shape:  # L was broadcast over B's batch
            gl = unbroadcast(gl, self.lower.shape)
        if gb.shape != self.x.shape:
            gb = unbroadcast(gb, self.x.shape)
        return gl, gb


    def backward_graph(self, g):
        """The same adjoint with Tensor ops (create_graph=True)."""
        lower, b = self.parents
        x = SolveLowerTriangular.apply(lower, b if b is not None else self.x)
        gb = _solve_upper_on_tape(lower.tril().transpose(-1, -2), g)
        gl = -(gb @ x.transpose(-1, -2)).tril() if self.needs_input_grad[0] else None
        return gl, gb


def _solve_upper_on_tape(upper, rhs):
    """U^-1 rhs on the tape via the lower solver: reversing rows and columns makes U lower-triangular."""
    flipped = SolveLowerTriangular.apply(upper.flip(-2, -1), rhs.flip(-2))
    return flipped.flip(-2)


def cholesky(a):
    return Cholesky.apply(a)


def solve_lower_triangular(lower, b):
    return SolveLowerTriangular.apply(lower, b)


# ---- the regularized incomplete gamma function, for Gamma's implicit reparameterization ----------------------------
_INCOMPLETE_GAMMA_MAX_TERMS = 5000
_TINY = np.finfo(np.float64).tiny


def _lower_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)): converges fast for x < a + 1."""
    term = np.ones_like(x)
    total = np.ones_like(x)
    active = np.ones(x.shape, dtype=bool)
    for n in range(1, _INCOMPLETE_GAMMA_MAX_TERMS):
        term = np.where(active, term * x / (a + n), term)
        total = np.where(active, total + term, total)
        active &= term > 1e-17 * total
        if not active.any():
            break
    return np.exp(a * np.log(x) - x - lgamma_array(a + 1)) * total


def _upper_continued_fraction(a, x):
    """Q(a, x) = 1 - P(a, x) by the Legendre continued fraction (modified Lentz): converges fast for x > a + 1."""
    b = x + 1 - a
    c = np.full_like(x, 1 / _TINY)
    d = 1 / b
    h = d.copy()
    active = np.ones(x.shape, dtype=bool)
    for i in range(1, _INCOMPLETE_GAMMA_MAX_TERMS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1 / d
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1) > 1e-16
        if not active.any():
            break
    return np.exp(a * np.log(x) - x - lgamma_array(a)) * h


def incomplete_gamma_lower(a, x):
    """The regularized lower incomplete gamma function P(a, x) (float64, a > 0; 0 for x <= 0)."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    use_series = (x < a + 1) & (x > 0)
    use_fraction = x >= a + 1
    out = np.zeros(x.shape)
    out[use_series] = _lower_series(a[use_series], x[use_series])
    out[use_fraction] = 1 - _upper_continued_fraction(a[use_fraction], x[use_fraction])
    return out


def _incomplete_gamma_d_a(a, x):
    """dP(a, x)/da by central differences: P is computed to ~1e-15, so a step of 1e-5 a leaves ~1e-10 relative
    error (truncation h^2 P''' and rounding eps P / h balance there). On the upper side it differentiates Q, which
    keeps its relative precision where P is near 1."""
    h = 1e-5 * np.maximum(a, 1e-3)
    use_series = x < a + 1
    out = np.empty(x.shape)
    s, u = use_series, ~use_series
    out[s] = (_lower_series(a[s] + h[s], x[s]) - _lower_series(a[s] - h[s], x[s])) / (2 * h[s])
    out[u] = -(_upper_continued_fraction(a[u] + h[u], x[u])
               - _upper_continued_fraction(a[u] - h[u], x[u])) / (2 * h[u])
    return out


def standard_gamma_grad(a, x):
    """dx/da for x ~ Gamma(a, 1) held at a fixed quantile (implicit reparameterization, Figurnov et al. 2018):
    dx/da = -(dP(a, x)/da) / p(x; a)."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    x = np.maximum(x, _TINY)
    log_density = (a - 1) * np.log(x) - x - lgamma_array(a)
    return -_incomplete_gamma_d_a(a, x) / np.exp(log_density)


class RegularizedGammaP(Function):
    """P(a, x), the Gamma(a, 1) cdf at x; d/dx is the Gamma density, d/da by central differences."""

    def forward(self, a, x):
        self.a, self.x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
        return incomplete_gamma_lower(self.a, self.x).astype(np.result_type(a, x))

    def backward(self, g):
        a, x = self.a, self.x
        inside = x > 0
        ga = gx = None
        if self.needs_input_grad[0]:
            ga = np.zeros(x.shape)
            ga[inside] = _incomplete_gamma_d_a(a[inside], x[inside])
            ga = unbroadcast(g * ga.astype(g.dtype), self.parents[0].shape)
        if self.needs_input_grad[1]:
            safe = np.where(inside, x, 1.0)
            density = np.where(inside, np.exp((a - 1) * np.log(safe) - safe - lgamma_array(a)), 0.0)
            gx = unbroadcast(g * density.astype(g.dtype), self.parents[1].shape)
        return ga, gx


class StandardGammaSample(Function):
    """x ~ Gamma(concentration, 1) of ``shape`` (batch dims last) from dlcore's generator, with the implicit
    reparameterization gradient dx/dconcentration (summed over the sample dims)."""

    def forward(self, concentration, shape=(), generator=None):
        self.concentration = concentration
        draws = generator.standard_gamma(np.asarray(concentration, dtype=np.float64), shape)
        # a draw that underflowed to 0 (small concentration) would have log-density -inf: keep it positive
        self.x = np.maximum(draws, np.finfo(concentration.dtype).tiny)
        return self.x.astype(concentration.dtype)

    def backward(self, g):
        dx = g * standard_gamma_grad(self.concentration, self.x).astype(g.dtype)
        lead = dx.ndim - self.concentration.ndim
        return dx.sum(axis=tuple(range(lead))) if lead else dx
