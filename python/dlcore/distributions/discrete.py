"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical, Poisson, Binomial, Geometric.

Those given ``probs`` or ``logits`` keep both (torch computes the other lazily; here both are computed once):
logits are log-odds for Bernoulli/Binomial/Geometric and normalized log-probabilities for Categorical.
Samples carry no gradient (there is no reparameterization for discrete values).
"""
from __future__ import annotations

import math

import numpy as np

from .. import functions as _functions
from ..nn.functional import binary_cross_entropy_with_logits, one_hot, softplus
from ..tensor import Tensor
from . import constraints
from ._special import lgamma
from .distribution import Distribution, broadcast_all, draw


def _clamp_probs(probs):
    """Probabilities pulled eps away from 0 and 1 so that their log-odds stay finite (torch's clamp_probs)."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(eps, 1 - eps)


def _probs_or_logits(probs, logits, owner):
    """Exactly one of ``probs`` / ``logits``, as ``(tensor, given_name)``."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{owner}: give either `probs` or `logits`, not both (and not neither)")
    return (probs, "probs") if probs is not None else (logits, "logits")


class _BinaryParametrised(Distribution):
    """Bernoulli, Binomial, Geometric: parametrised by success probability or its log-odds."""

    _probs_constraint = constraints.unit_interval

    def _set_probs_logits(self, probs, logits, *others):
        given, self._given = _probs_or_logits(probs, logits, type(self).__name__)
        values = broadcast_all(given, *others)
        if self._given == "probs":
            self.probs = values[0]
            clamped = _clamp_probs(self.probs)
            self.logits = clamped.log() - (-clamped).log1p()
        else:
            self.logits = values[0]
            self.probs = self.logits.sigmoid()
        return values[1:]

    @property
    def arg_constraints(self):
        given = {"probs": self._probs_constraint, "logits": constraints.real}
        return {self._given: given[self._given], **self._extra_constraints()}

    def _extra_constraints(self):
        return {}


class Bernoulli(_BinaryParametrised):
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._set_probs_logits(probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where p > 1/2, 0 where p < 1/2, NaN at the tie (torch's rule)."""
        mode = (self.probs >= 0.5).type_as(self.probs)
        return _functions.where(self.probs == 0.5, mode * math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        p = self.probs.detach().numpy()
        return draw(self._extended_shape(sample_shape), p.dtype, lambda rng, s: rng.random(s) < p)

    def log_prob(self, value):
        value = self._checked(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        return _enumerate(2, self.probs.dtype, self._batch_shape, expand)


def _enumerate(count, dtype, batch_shape, expand):
    """0 .. count-1 along a new leading dim, then the batch dims (size 1, or expanded when ``expand``)."""
    values = Tensor(np.arange(count, dtype=dtype).reshape((count,) + (1,) * len(batch_shape)))
    return values.expand(count, *batch_shape) if expand else values


class Categorical(Distribution):
    """Categories 0..K-1 over the last dim of ``probs`` (normalized here) or ``logits`` (unnormalized)."""

    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        given, self._given = _probs_or_logits(probs, logits, type(self).__name__)
        (given,) = broadcast_all(given)
        if given.ndim < 1:
            raise ValueError(f"{type(self).__name__}: `{self._given}` must be at least one-dimensional")
        if self._given == "probs":
            self.probs = given / given.sum(-1, keepdim=True)
            self.logits = _clamp_probs(self.probs).log()
        else:
            self.logits = given - _functions.logsumexp(given, -1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], validate_args=validate_args)

    @property
    def arg_constraints(self):
        # as torch: the normalized probs must lie on the simplex (a negative or all-zero row fails)
        return {"probs": constraints.simplex} if self._given == "probs" else {
            "logits": constraints.independent(constraints.real, 1)}

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self):
        return Tensor(np.full(self._batch_shape, np.nan, dtype=self.probs.dtype))

    @property
    def variance(self):
        return self.mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        cdf = np.cumsum(self.probs.detach().numpy(), -1)
        shape = self._extended_shape(sample_shape)

        def inverse_cdf(rng, s):
            unit = rng.random(s + (1,)) * cdf[..., -1:]
            return (unit >= cdf).sum(-1).clip(max=self._num_events - 1)
        return draw(shape, np.int64, inverse_cdf)

    def log_prob(self, value):
        value = self._checked(value)
        index = np.asarray(value.detach().numpy(), dtype=np.int64)
        shape = np.broadcast_shapes(index.shape, self._batch_shape)
        logits = self.logits.expand(*(shape + (self._num_events,)))
        index = Tensor(np.broadcast_to(index, shape)[..., None].copy())
        return logits.gather(-1, index).squeeze(-1)

    def entropy(self):
        smallest = float(np.finfo(self.logits.dtype).min)  # 0 * log 0 = 0, not NaN
        return -(self.logits.clamp(min=smallest) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        return _enumerate(self._num_events, np.int64, self._batch_shape, expand)


class OneHotCategorical(Distribution):
    """Categorical with samples as one-hot vectors: event_shape (K,)."""

    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.probs, self.logits = self._categorical.probs, self._categorical.logits
        shape = self.probs.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    arg_constraints = {}  # validated by the inner Categorical

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    @property
    def mode(self):
        return one_hot(self.probs.argmax(-1), self.probs.shape[-1]).type_as(self.probs)

    def sample(self, sample_shape=()):
        index = self._categorical.sample(sample_shape)
        return one_hot(index, self._event_shape[0]).type_as(self.probs)

    def log_prob(self, value):
        value = self._checked(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        values = Tensor(np.eye(k, dtype=self.probs.dtype).reshape((k,) + (1,) * len(self._batch_shape) + (k,)))
        return values.expand(k, *self._batch_shape, k) if expand else values

    def _dtype(self):
        return self.probs.dtype


class Poisson(Distribution):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        rate = self.rate.detach().numpy()
        return draw(self._extended_shape(sample_shape), rate.dtype, lambda rng, s: rng.poisson(rate, s))

    def log_prob(self, value):
        value = self._checked(value)
        rate, value = broadcast_all(self.rate, value)
        return _xlogy(value, rate) - rate - lgamma(value + 1)


def _xlogy(x, y):
    """x * log(y), 0 where x == 0 (even for y == 0)."""
    safe = _functions.where(x == 0, y * 0 + 1, y)
    with np.errstate(divide="ignore"):  # y == 0 < x: -inf, as torch.xlogy
        return x * safe.log()


class Binomial(_BinaryParametrised):
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        (self.total_count,) = self._set_probs_logits(probs, logits, total_count)
        self.probs, self.logits = broadcast_all(self.probs, self.logits, self.total_count)[:2]
        super().__init__(self.probs.shape, validate_args=validate_args)

    def _extra_constraints(self):
        return {"total_count": constraints.nonnegative_integer}

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        n, p = self.total_count.detach().numpy().astype(np.int64), self.probs.detach().numpy()
        return draw(self._extended_shape(sample_shape), p.dtype, lambda rng, s: rng.binomial(n, p, s))

    def log_prob(self, value):
        value = self._checked(value)
        n, logits = self.total_count, self.logits
        log_choose = lgamma(n + 1) - lgamma(value + 1) - lgamma(n - value + 1)
        # k log p + (n - k) log(1 - p) = k * logit - n * softplus(logit): finite for any logit
        return log_choose + value * logits - n * softplus(logits)

    def entropy(self):
        counts = np.unique(self.total_count.detach().numpy())
        if counts.size != 1:
            raise NotImplementedError("Binomial.entropy needs one total_count for the whole batch (as torch)")
        support = self.enumerate_support(expand=False)
        log_prob = self.log_prob(support)
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        counts = np.unique(self.total_count.detach().numpy())
        if counts.size != 1:
            raise NotImplementedError("Binomial.enumerate_support needs one total_count for the whole batch")
        return _enumerate(int(counts[0]) + 1, self.probs.dtype, self._batch_shape, expand)


class Geometric(_BinaryParametrised):
    """The number of failures before the first success (support 0, 1, 2, ... as torch)."""

    support = constraints.nonnegative_integer
    _probs_constraint = constraints.left_open_unit_interval  # p = 0 never succeeds: torch refuses it

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._set_probs_logits(probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.probs - 1

    @property
    def mode(self):
        return self.probs * 0

    @property
    def variance(self):
        return (1 / self.probs - 1) / self.probs

    def sample(self, sample_shape=()):
        p = self.probs.detach().numpy()
        return draw(self._extended_shape(sample_shape), p.dtype, lambda rng, s: rng.geometric(p, s) - 1)

    def log_prob(self, value):
        value = self._checked(value)
        if self._given == "logits":  # k log(1 - p) + log p = -k softplus(logit) - softplus(-logit): no rounding of p
            return -value * softplus(self.logits) - softplus(-self.logits)
        # from probs (as torch): exact at p = 1, where the clamped logit would leave log p = -1e-7 in float32
        value, probs = broadcast_all(value, self.probs)
        return _xlogy(value, 1 - probs) + probs.log()

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs
