"""kl_divergence(p, q) = E_p[log p - log q] in closed form for registered pairs; ``register_kl`` adds pairs.

Lookup is by class, most specific match first (as torch: a pair registered for subclasses wins over one for
their bases).
"""
from __future__ import annotations

import math

import numpy as np

from ..functions import where
from ..nn.functional import softplus
from ._special import digamma, lgamma
from .continuous import Beta, Dirichlet, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical, Poisson
from .distribution import sum_rightmost
from .multivariate_normal import MultivariateNormal, _batch_solve, _half_log_det
from .transformed_distribution import Independent, LogNormal

_KL_REGISTRY = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(P, Q)`` over ``def kl(p, q)`` registers the closed form for that pair."""
    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def _lookup(type_p, type_q):
    matches = [(type_p.__mro__.index(p) + type_q.__mro__.index(q), fn) for (p, q), fn in _KL_REGISTRY.items()
               if issubclass(type_p, p) and issubclass(type_q, q)]
    return min(matches, key=lambda match: match[0])[1] if matches else None


def kl_divergence(p, q):
    """KL(p || q), one value per batch element."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"kl_divergence: no closed form registered for {type(p).__name__} || "
                                  f"{type(q).__name__} (add one with register_kl)")
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    variance_ratio = (p.scale / q.scale) ** 2
    mean_term = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (variance_ratio + mean_term - 1 - variance_ratio.log())


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    distance = (p.loc - q.loc).abs()
    return -scale_ratio.log() + distance / q.scale + scale_ratio * (-distance / p.scale).exp() - 1


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    contained = (q.low <= p.low) & (p.high <= q.high)
    ratio = ((q.high - q.low) / (p.high - p.low)).log()
    return where(contained, ratio, ratio * 0 + math.inf)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return (q.concentration * (p.rate / q.rate).log() + lgamma(q.concentration) - lgamma(p.concentration)
            + (p.concentration - q.concentration) * digamma(p.concentration)
            + (q.rate - p.rate) * (p.concentration / p.rate))


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p = a_p + b_p
    log_beta_ratio = (lgamma(a_q) + lgamma(b_q) - lgamma(a_q + b_q)) - (lgamma(a_p) + lgamma(b_p) - lgamma(total_p))
    return (log_beta_ratio + (a_p - a_q) * digamma(a_p) + (b_p - b_q) * digamma(b_p)
            + (a_q - a_p + b_q - b_p) * digamma(total_p))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    alpha_p, alpha_q = p.concentration, q.concentration
    total_p = alpha_p.sum(-1)
    return (lgamma(total_p) - lgamma(alpha_q.sum(-1)) - (lgamma(alpha_p) - lgamma(alpha_q)).sum(-1)
            + ((alpha_p - alpha_q) * (digamma(alpha_p) - digamma(total_p).unsqueeze(-1))).sum(-1))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # log p = -softplus(-logit), log(1 - p) = -softplus(logit): finite for every logit. The logits of probs 0 and
    # 1 are clamped (finite), so those ends are set as torch sets them: 0 log 0 = 0, and p > 0 where q = 0 is inf.
    positive = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    positive = where(p.probs == 0, positive * 0, where(q.probs == 0, positive * 0 + math.inf, positive))
    negative = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    negative = where(p.probs == 1, negative * 0, where(q.probs == 1, negative * 0 + math.inf, negative))
    return positive + negative


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    terms = where(p.probs == 0, terms * 0, terms)  # 0 log 0 = 0
    impossible = ((q.probs == 0) & (p.probs > 0)).numpy().any(-1)  # p puts mass where q has none
    kl = terms.sum(-1)
    return where(_as_bool(impossible, kl), kl * 0 + math.inf, kl)


def _as_bool(array, like):
    from ..tensor import Tensor

    return Tensor(np.broadcast_to(np.asarray(array, dtype=bool), tuple(like.shape)).copy())


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    """0.5 (tr(Sq^-1 Sp) + |Lq^-1 (mu_q - mu_p)|^2 - n + log det Sq - log det Sp)."""
    n = p.event_shape[0]
    lq, lp = q._unbroadcasted_scale_tril, p._unbroadcasted_scale_tril
    trace = _batch_solve(lq, lp) ** 2  # tr(Sq^-1 Sp) = |Lq^-1 Lp|_F^2
    trace = trace.sum(-1).sum(-1)
    z = _batch_solve(lq, (q.loc - p.loc).unsqueeze(-1)).squeeze(-1)
    kl = 0.5 * (trace + (z * z).sum(-1) - n) + _half_log_det(lq) - _half_log_det(lp)
    shape = np.broadcast_shapes(p.batch_shape, q.batch_shape)
    return kl.expand(*shape) if tuple(kl.shape) != shape else kl


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent pairs need equal reinterpreted_batch_ndims")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
