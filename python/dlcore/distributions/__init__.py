"""dlcore.distributions: probability distributions as torch.distributions (sample / rsample, log_prob, entropy,
moments, KL divergences), differentiable through dlcore's autograd. ``import dlcore.distributions as D``.

Samples come from dlcore's global generator, so ``dlcore.manual_seed`` makes them reproducible. Validation is on
by default (``validate_args``): a bad parameter, or a log_prob value outside the support, raises ValueError.

>>> import dlcore.distributions as D
>>> dist = D.Normal(dlcore.tensor([0.0, 1.0]), dlcore.tensor([1.0, 2.0]))
>>> dist.batch_shape, dist.event_shape
((2,), ())
>>> dist.log_prob(dlcore.tensor([0.0, 1.0]))
tensor([-0.9189, -1.6121])
>>> D.kl_divergence(dist, D.Normal(0.0, 1.0))
tensor([0.    , 1.3069])

A squashed Gaussian policy (SAC): the action's log-probability through the tanh's change of variables.

>>> _ = dlcore.manual_seed(0)
>>> policy = D.TransformedDistribution(D.Normal(dlcore.zeros(2), dlcore.ones(2)), [D.TanhTransform()])
>>> action = policy.rsample()
>>> action, policy.log_prob(action)
(tensor([ 0.1251, -0.1313]), tensor([-0.9111, -0.9103]))
"""
from . import constraints, transforms
from .continuous import Beta, Dirichlet, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Binomial, Categorical, Geometric, OneHotCategorical, Poisson
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .transformed_distribution import Independent, LogNormal, TransformedDistribution
from .transforms import AffineTransform, ComposeTransform, ExpTransform, SigmoidTransform, TanhTransform, Transform

__all__ = [
    "AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "ComposeTransform", "Dirichlet",
    "Distribution", "ExpTransform", "Exponential", "Gamma", "Geometric", "Independent", "Laplace", "LogNormal",
    "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson", "SigmoidTransform", "TanhTransform", "Transform",
    "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl", "transforms",
]
