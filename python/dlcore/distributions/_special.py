"""The special functions and matrix ops the distributions need, as autograd Functions on NumPy arrays.

dlcore's core depends on NumPy alone (no SciPy), so lgamma uses Python's ``math.lgamma`` element by element and
digamma / trigamma use the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10 and then their asymptotic series
(Abramowitz & Stegun 6.3.18, 6.4.12), accurate to ~1e-15 there. Cholesky's backward is torch's
(``cholesky_backward``, after Murray 2016); the triangular solve's is the usual X = L^-1 B adjoint.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function

_lgamma_elementwise = np.vectorize(math.lgamma, otypes=[np.float64])
#: Below this, shift x up by the recurrence before using the asymptotic series: the first omitted terms,
#: 691/32760 x^-12 (digamma) and 7/6 x^-15 (trigamma), are < 3e-14 from x = 10 on (at 6 they were 1e-11).
_ASYMPTOTIC_FROM = 10.0


def _shifted(x):
    """(x shifted to >= _ASYMPTOTIC_FROM, the list of shifts-applied masks), for the recurrences."""
    x = np.array(x, dtype=np.float64, copy=True)
    steps = []
    while True:
        low = x < _ASYMPTOTIC_FROM
        if not low.any():
            return x, steps
        steps.append((low, x.copy()))
        x = np.where(low, x + 1, x)


def digamma_array(x):
    """psi(x) = d/dx lgamma(x) in float64 (reflection psi(1-x) - pi/tan(pi x) for x < 0.5)."""
    x = np.asarray(x, dtype=np.float64)
    reflect = x < 0.5
    z = np.where(reflect, 1 - x, x)
    shifted, steps = _shifted(z)
    inv2 = 1 / (shifted * shifted)
    series = np.log(shifted) - 0.5 / shifted - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (
        1 / 252 - inv2 * (1 / 240 - inv2 * (1 / 132)))))
    for low, before in steps:
        series = series - np.where(low, 1 / before, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(reflect, series - math.pi / np.tan(math.pi * x), series)


def trigamma_array(x):
    """psi'(x) in float64, for x > 0 (the distributions' parameters are positive)."""
    shifted, steps = _shifted(np.asarray(x, dtype=np.float64))
    inv = 1 / shifted
    inv2 = inv * inv
    series = inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (
        1 / 30 - inv2 * (5 / 66 - inv2 * (691 / 2730))))))
    for low, before in steps:
        series = series + np.where(low, 1 / (before * before), 0.0)
    return series


def _same_dtype(values, like):
    return np.asarray(values, dtype=like.dtype) if like.dtype.kind == "f" else values


class Lgamma(Function):
    """log|Gamma(x)|; d/dx = digamma(x)."""

    def forward(self, x):
        self.x = x
        return _same_dtype(_lgamma_elementwise(x), x)

    def backward(self, g):
        return g * _same_dtype(digamma_array(self.x), g)

    def backward_graph(self, g):  # create_graph=True: the same derivative, on the tape
        return g * Digamma.apply(self.parents[0])


class Digamma(Function):
    """psi(x); d/dx = trigamma(x)."""

    def forward(self, x):
        self.x = x
        return _same_dtype(digamma_array(x), x)

    def backward(self, g):
        return g * _same_dtype(trigamma_array(self.x), g)

    def backward_graph(self, g):
        return g * Trigamma.apply(self.parents[0])


class Trigamma(Function):
    """psi'(x): only as digamma's derivative (its own derivative, psi'', is not implemented)."""

    def forward(self, x):
        return _same_dtype(trigamma_array(x), x)

    def backward(self, g):
        raise NotImplementedError("the derivative of trigamma (a third derivative of lgamma) is not implemented")


def lgamma(x):
    return Lgamma.apply(x)


def digamma(x):
    return Digamma.apply(x)


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
            raise ValueError(f"cholesky: the matrix (shape {a.shape}) is not positive-definite") from err
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
            gl = _sum_to_shape(gl, self.lower.shape)
        if gb.shape != self.x.shape:
            gb = _sum_to_shape(gb, self.x.shape)
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


def _sum_to_shape(array, shape):
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead))) if lead else array
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
    return array.sum(axis=axes, keepdims=True) if axes else array


def cholesky(a):
    return Cholesky.apply(a)


def solve_lower_triangular(lower, b):
    return SolveLowerTriangular.apply(lower, b)


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


def erfinv_array(x):
    """erf^-1(x) in float64: Giles' approximation, refined by Newton steps (see _newton_step)."""
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


class Erfinv(Function):
    """erf^-1(x); d/dx = sqrt(pi)/2 exp(y^2)."""

    def forward(self, x):
        self.y = erfinv_array(x)
        return _same_dtype(self.y, x)

    def backward(self, g):
        return g * _same_dtype(math.sqrt(math.pi) / 2 * np.exp(self.y ** 2), g)

    def backward_graph(self, g):
        y = Erfinv.apply(self.parents[0])
        return g * (math.sqrt(math.pi) / 2) * (y * y).exp()


def erfinv(x):
    return Erfinv.apply(x)


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
    return np.exp(a * np.log(x) - x - _lgamma_elementwise(a + 1)) * total


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
    return np.exp(a * np.log(x) - x - _lgamma_elementwise(a)) * h


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
    log_density = (a - 1) * np.log(x) - x - _lgamma_elementwise(a)
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
            ga = _sum_to_shape(g * ga.astype(g.dtype), self.parents[0].shape)
        if self.needs_input_grad[1]:
            safe = np.where(inside, x, 1.0)
            density = np.where(inside, np.exp((a - 1) * np.log(safe) - safe - _lgamma_elementwise(a)), 0.0)
            gx = _sum_to_shape(g * density.astype(g.dtype), self.parents[1].shape)
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
