"""Univariate continuous distributions: Normal, Uniform, Exponential, Laplace, Gamma, Beta, and Dirichlet.

Normal, Uniform, Exponential and Laplace sample by reparameterization (loc + scale * noise), so ``rsample``
carries gradients to their parameters. Gamma, Beta and Dirichlet sample with NumPy's gamma sampler and carry
implicit reparameterization gradients (Figurnov et al. 2018, as torch): dx/dconcentration at a fixed quantile,
from the incomplete gamma function (_special.StandardGammaSample). Beta and Dirichlet are normalized gammas, so
their gradients flow through the normalization (torch uses a separate Dirichlet formula: the per-sample
gradients differ, their expectations agree).
"""
from __future__ import annotations

import math

import numpy as np

from ..functions import where
from ..nn.functional import one_hot
from ..random import default_generator
from ..tensor import stack
from . import constraints
from ._special import RegularizedGammaP, StandardGammaSample, digamma, erfinv, lgamma
from .distribution import Distribution, broadcast_all, draw

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        noise = draw(self._extended_shape(sample_shape), self.loc.dtype, lambda rng, s: rng.standard_normal(s))
        return self.loc + noise * self.scale

    def log_prob(self, value):
        value = self._checked(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - _HALF_LOG_TWO_PI

    def cdf(self, value):
        value = self._checked(value)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value):
        return self.loc + self.scale * erfinv(2 * _as_like(value, self.loc) - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + _HALF_LOG_TWO_PI + self.scale.log()


def _as_like(value, like):
    """A probability argument (number or Tensor) as a Tensor of ``like``'s dtype."""
    return broadcast_all(value, like)[0] if not hasattr(value, "_data") else value


class Uniform(Distribution):
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)

    @property
    def arg_constraints(self):
        return {"low": constraints.real, "high": constraints.greater_than(self.low)}

    @property
    def support(self):
        return constraints.half_open_interval(self.low, self.high)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def mode(self):
        return self.low * math.nan

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        unit = draw(self._extended_shape(sample_shape), self.low.dtype, lambda rng, s: rng.random(s))
        return self.low + unit * (self.high - self.low)

    def log_prob(self, value):
        value = self._checked(value)
        inside = ((value >= self.low) & (value < self.high)).type_as(self.low)
        with np.errstate(divide="ignore"):  # log 0 = -inf outside [low, high) (reachable with validation off)
            return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        value = self._checked(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return self.low + _as_like(value, self.low) * (self.high - self.low)

    def entropy(self):
        return (self.high - self.low).log()


class Exponential(Distribution):
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def mode(self):
        return self.rate * 0

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        noise = draw(self._extended_shape(sample_shape), self.rate.dtype, lambda rng, s: rng.standard_exponential(s))
        return noise / self.rate

    def log_prob(self, value):
        value = self._checked(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        value = self._checked(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-_as_like(value, self.rate)).log1p() / self.rate

    def entropy(self):
        return 1 - self.rate.log()


class Laplace(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale ** 2

    def rsample(self, sample_shape=()):
        noise = draw(self._extended_shape(sample_shape), self.loc.dtype, lambda rng, s: rng.laplace(size=s))
        return self.loc + noise * self.scale

    def log_prob(self, value):
        value = self._checked(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        value = self._checked(value)
        centred = value - self.loc
        return 0.5 - 0.5 * centred.sign() * (-centred.abs() / self.scale).expm1()

    def icdf(self, value):
        centred = _as_like(value, self.loc) - 0.5
        return self.loc - self.scale * centred.sign() * (-2 * centred.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()


def _standard_gamma(concentration, shape):
    """Gamma(concentration, 1) draws of ``shape`` from dlcore's generator, differentiable in concentration."""
    return StandardGammaSample.apply(concentration, shape=tuple(shape), generator=default_generator())


class Gamma(Distribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        return _standard_gamma(self.concentration, self._extended_shape(sample_shape)) / self.rate

    def log_prob(self, value):
        value = self._checked(value)
        c, rate = self.concentration, self.rate
        return c * rate.log() + (c - 1) * value.log() - rate * value - lgamma(c)

    def cdf(self, value):
        value = self._checked(value)
        return RegularizedGammaP.apply(self.concentration, self.rate * value)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1 - c) * digamma(c)


def _log_beta(a, b):
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """Dirichlet's rule on (a, b), as torch: (a - 1) / (a + b - 2) for a, b > 1; 0 or 1 where one of them
        is < 1 (the density's unbounded end); NaN for a = b = 1."""
        return _dirichlet_mode(stack([self.concentration1, self.concentration0], -1))[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = _standard_gamma(self.concentration1, shape)
        y = _standard_gamma(self.concentration0, shape)
        eps = float(np.finfo(x.dtype).eps)
        return (x / (x + y)).clamp(eps, 1 - eps)  # 0 or 1 exactly would give log_prob -inf

    def log_prob(self, value):
        value = self._checked(value)
        a, b = self.concentration1, self.concentration0
        return (a - 1) * value.log() + (b - 1) * (-value).log1p() - _log_beta(a, b)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (_log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (a + b - 2) * digamma(a + b))


def _dirichlet_mode(concentration):
    """(alpha - 1)+ normalized; where every alpha < 1 (density unbounded at the corners), a one-hot at the
    largest alpha. torch also one-hots there, but at the argmax of its NaN row (0/0), i.e. always index 0."""
    excess = (concentration - 1).clamp(min=0)
    with np.errstate(invalid="ignore"):  # the 0/0 rows are replaced just below (or are NaN, as torch's)
        mode = excess / excess.sum(-1, keepdim=True)
    corner = one_hot(concentration.argmax(-1), concentration.shape[-1]).type_as(mode)
    all_below_one = (concentration < 1).all(-1).unsqueeze(-1).expand(*mode.shape)
    return where(all_below_one, corner, mode)


class Dirichlet(Distribution):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        (self.concentration,) = broadcast_all(concentration)
        if self.concentration.ndim < 1:
            raise ValueError("Dirichlet: concentration must be at least one-dimensional")
        shape = self.concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        return _dirichlet_mode(self.concentration)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        gammas = _standard_gamma(self.concentration, self._extended_shape(sample_shape))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value):
        value = self._checked(value)
        alpha = self.concentration
        return (((alpha - 1) * value.log()).sum(-1) + lgamma(alpha.sum(-1)) - lgamma(alpha).sum(-1))

    def entropy(self):
        alpha = self.concentration
        k = alpha.shape[-1]
        total = alpha.sum(-1)
        return (lgamma(alpha).sum(-1) - lgamma(total) + (total - k) * digamma(total)
                - ((alpha - 1) * digamma(alpha)).sum(-1))
