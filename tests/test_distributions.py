"""dlcore.distributions: densities, moments and KL against float64 closed forms (NumPy / math), sample moments
against their standard errors, reproducibility under dlcore.manual_seed, float64 gradchecks of log_prob and
rsample, and the validation errors. No torch (CI has none)."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.distributions as D
from dlcore.autograd import gradcheck
from dlcore.distributions._special import (
    digamma_array,
    erfinv_array,
    incomplete_gamma_lower,
    standard_gamma_grad,
    trigamma_array,
)
from opcheck import assert_close

EULER_GAMMA = 0.5772156649015329
LOG_2PI = math.log(2 * math.pi)
#: How many standard errors a Monte Carlo estimate may miss by (a false failure once in ~1.7 million runs).
Z = 5.0
N_SAMPLES = 40000
_lgamma = np.vectorize(math.lgamma)


def t64(a, requires_grad=False):
    return dlcore.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def arr(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def _log_beta(a, b):
    return _lgamma(a) + _lgamma(b) - _lgamma(a + b)


# ---- the special functions, against exact values ----------------------------------------------------------------
def test_digamma_exact_values_at_integers_and_half_integers():
    n = np.arange(1, 40)
    harmonic = np.cumsum(1.0 / n) - 1.0 / n  # H_{n-1}
    assert_close(digamma_array(n.astype(float)), harmonic - EULER_GAMMA, rtol=1e-13, atol=1e-14, what="psi(n)")
    odd_sum = np.cumsum(2.0 / (2 * n - 1))  # psi(n + 1/2) = -gamma - 2 log 2 + sum_{k<=n} 2/(2k-1)
    assert_close(digamma_array(n + 0.5), -EULER_GAMMA - 2 * math.log(2) + odd_sum, rtol=1e-13, atol=1e-14,
                 what="psi(n + 1/2)")
    assert_close(digamma_array(np.array([-0.5])), [-EULER_GAMMA - 2 * math.log(2) + 2], rtol=1e-12,
                 what="psi(-1/2) by reflection")


def test_digamma_is_the_derivative_of_lgamma():
    x = np.geomspace(0.02, 80, 60)
    h = 1e-5 * x
    numeric = (_lgamma(x + h) - _lgamma(x - h)) / (2 * h)
    assert_close(digamma_array(x), numeric, rtol=1e-7, atol=1e-7, what="psi vs d lgamma")


def test_trigamma_exact_values():
    n = np.arange(1, 40)
    assert_close(trigamma_array(n.astype(float)), math.pi ** 2 / 6 - (np.cumsum(1.0 / n ** 2) - 1.0 / n ** 2),
                 rtol=1e-13, what="psi'(n)")
    assert_close(trigamma_array(np.array([0.5])), [math.pi ** 2 / 2], rtol=1e-13, what="psi'(1/2)")


def test_erfinv_inverts_erf():
    # |y| <= 3: erf'(y) >= 1.4e-4 there, so rounding x = erf(y) moves y by < 1e-12
    y = np.linspace(-3, 3, 121)
    assert_close(erfinv_array(np.array([math.erf(v) for v in y])), y, rtol=1e-11, atol=1e-12, what="erfinv(erf(y))")
    # the tails: erfc(erfinv(x)) = 1 - x to relative precision (1 - x is exact in floating point for x >= 1/2)
    x = 1 - np.geomspace(2.0 ** -53, 0.5, 200)
    assert_close(np.vectorize(math.erfc)(erfinv_array(x)), 1 - x, rtol=1e-13, atol=0, what="erfc(erfinv(x))")
    assert_close(erfinv_array(-x), -erfinv_array(x), rtol=0, atol=0, what="odd")
    assert np.isinf(erfinv_array(np.array([1.0, -1.0]))).all()


def test_incomplete_gamma_exact_values():
    x = np.geomspace(1e-3, 200, 80)
    assert_close(incomplete_gamma_lower(1.0, x), -np.expm1(-x), rtol=1e-12, atol=1e-15, what="P(1, x)")
    assert_close(incomplete_gamma_lower(0.5, x), np.vectorize(math.erf)(np.sqrt(x)), rtol=1e-12, atol=1e-15,
                 what="P(1/2, x)")
    for n in (3, 10, 40):  # P(n, x) = 1 - e^-x sum_{k<n} x^k / k!
        k = np.arange(n)[:, None]
        upper = np.exp(k * np.log(x) - x - _lgamma(k + 1)).sum(0)
        assert_close(incomplete_gamma_lower(float(n), x), 1 - upper, rtol=1e-11, atol=1e-14, what=f"P({n}, x)")


def test_standard_gamma_grad_against_the_differentiated_quantile():
    """dx/da at fixed P(a, x) = u: x(a) is the quantile, found here by bisection on the (separately tested) P."""
    def quantile(a, u):
        low, high = np.full_like(u, math.log(1e-12)), np.full_like(u, math.log(500.0))
        for _ in range(64):  # bisection on log x: the bracket shrinks to 33 / 2^64, below x's rounding
            mid = (low + high) / 2
            below = incomplete_gamma_lower(a, np.exp(mid)) < u
            low, high = np.where(below, mid, low), np.where(below, high, mid)
        return np.exp((low + high) / 2)
    a = np.array([0.2, 0.7, 1.0, 2.5, 9.0, 60.0])
    u = np.array([0.3, 0.9, 0.5, 0.05, 0.6, 0.99])
    h = 1e-4 * a
    numeric = (quantile(a + h, u) - quantile(a - h, u)) / (2 * h)
    assert_close(standard_gamma_grad(a, quantile(a, u)), numeric, rtol=1e-6, atol=1e-10)


def test_special_function_gradients():
    from dlcore.distributions._special import digamma, erfinv, lgamma

    assert gradcheck(lambda x: lgamma(x) + digamma(x), [t64([0.3, 1.0, 2.5, 17.0], requires_grad=True)])
    assert gradcheck(erfinv, [t64([-0.9, -0.2, 0.4, 0.99], requires_grad=True)])


# ---- densities and moments against closed forms -----------------------------------------------------------------
rng_params = np.random.default_rng(20261206)
LOC = rng_params.normal(size=(2, 3))
SCALE = rng_params.uniform(0.5, 2.0, (2, 3))
RATE = rng_params.uniform(0.5, 3.0, (2, 3))
CONC = rng_params.uniform(0.6, 4.0, (2, 3))
PROBS = rng_params.uniform(0.1, 0.9, (2, 3))
ALPHA = rng_params.uniform(0.5, 3.0, (2, 4))
CAT_PROBS = rng_params.uniform(0.1, 1.0, (2, 4))
COUNT = 6.0


def _lp_normal(x):
    return -((x - LOC) ** 2) / (2 * SCALE ** 2) - np.log(SCALE) - 0.5 * LOG_2PI


#: name -> (make distribution, value in the support (float64 array), reference log_prob(x), mean, variance)
UNIVARIATE = {
    "Normal": (lambda: D.Normal(t64(LOC), t64(SCALE)), LOC + 0.3, _lp_normal, LOC, SCALE ** 2),
    "LogNormal": (lambda: D.LogNormal(t64(LOC), t64(SCALE)), np.exp(LOC + 0.3),
                  lambda x: _lp_normal(np.log(x)) - np.log(x),
                  np.exp(LOC + SCALE ** 2 / 2), np.expm1(SCALE ** 2) * np.exp(2 * LOC + SCALE ** 2)),
    "Uniform": (lambda: D.Uniform(t64(LOC), t64(LOC + SCALE)), LOC + 0.4 * SCALE, lambda x: -np.log(SCALE),
                LOC + SCALE / 2, SCALE ** 2 / 12),
    "Exponential": (lambda: D.Exponential(t64(RATE)), SCALE, lambda x: np.log(RATE) - RATE * x, 1 / RATE,
                    1 / RATE ** 2),
    "Laplace": (lambda: D.Laplace(t64(LOC), t64(SCALE)), LOC - 0.7,
                lambda x: -np.log(2 * SCALE) - np.abs(x - LOC) / SCALE, LOC, 2 * SCALE ** 2),
    "Gamma": (lambda: D.Gamma(t64(CONC), t64(RATE)), SCALE,
              lambda x: CONC * np.log(RATE) + (CONC - 1) * np.log(x) - RATE * x - _lgamma(CONC),
              CONC / RATE, CONC / RATE ** 2),
    "Beta": (lambda: D.Beta(t64(CONC), t64(RATE)), PROBS,
             lambda x: (CONC - 1) * np.log(x) + (RATE - 1) * np.log1p(-x) - _log_beta(CONC, RATE),
             CONC / (CONC + RATE), CONC * RATE / ((CONC + RATE) ** 2 * (CONC + RATE + 1))),
    "Bernoulli": (lambda: D.Bernoulli(probs=t64(PROBS)), (PROBS > 0.5).astype(float),
                  lambda x: x * np.log(PROBS) + (1 - x) * np.log1p(-PROBS), PROBS, PROBS * (1 - PROBS)),
    "Poisson": (lambda: D.Poisson(t64(RATE)), np.round(3 * SCALE),
                lambda x: x * np.log(RATE) - RATE - _lgamma(x + 1), RATE, RATE),
    "Binomial": (lambda: D.Binomial(COUNT, probs=t64(PROBS)), np.round(5 * PROBS),
                 lambda x: (_lgamma(COUNT + 1) - _lgamma(x + 1) - _lgamma(COUNT - x + 1) + x * np.log(PROBS)
                            + (COUNT - x) * np.log1p(-PROBS)), COUNT * PROBS, COUNT * PROBS * (1 - PROBS)),
    "Geometric": (lambda: D.Geometric(probs=t64(PROBS)), np.round(4 * SCALE),
                  lambda x: x * np.log1p(-PROBS) + np.log(PROBS), 1 / PROBS - 1, (1 - PROBS) / PROBS ** 2),
}


@pytest.mark.parametrize("name", sorted(UNIVARIATE))
def test_log_prob_mean_variance_match_closed_forms(name):
    make, value, ref_log_prob, ref_mean, ref_variance = UNIVARIATE[name]
    dist = make()
    assert dist.batch_shape == (2, 3) and dist.event_shape == ()
    assert_close(arr(dist.log_prob(t64(value))), ref_log_prob(value), rtol=1e-12, atol=1e-12, what="log_prob")
    assert_close(arr(dist.mean), ref_mean, rtol=1e-12, atol=1e-14, what="mean")
    assert_close(arr(dist.variance), ref_variance, rtol=1e-12, atol=1e-14, what="variance")
    assert_close(arr(dist.stddev), np.sqrt(ref_variance), rtol=1e-12, atol=1e-14, what="stddev")


#: Entropies in closed form where they need no digamma (the others are checked by quadrature and Monte Carlo).
ENTROPY = {
    "Normal": 0.5 + 0.5 * LOG_2PI + np.log(SCALE),
    "LogNormal": 0.5 + 0.5 * LOG_2PI + np.log(SCALE) + LOC,
    "Uniform": np.log(SCALE),
    "Exponential": 1 - np.log(RATE),
    "Laplace": 1 + np.log(2 * SCALE),
    "Bernoulli": -(PROBS * np.log(PROBS) + (1 - PROBS) * np.log1p(-PROBS)),
    "Geometric": -(PROBS * np.log(PROBS) + (1 - PROBS) * np.log1p(-PROBS)) / PROBS,
}


@pytest.mark.parametrize("name", sorted(ENTROPY))
def test_entropy_closed_forms(name):
    assert_close(arr(UNIVARIATE[name][0]().entropy()), ENTROPY[name], rtol=1e-12, atol=1e-13, what=name)


def _quadrature_entropy(log_density, low, high, points=200001):
    """-integral p log p on [low, high] (trapezoid; fine enough for 1e-6 on smooth densities)."""
    x = np.linspace(low, high, points)[1:-1]
    log_p = log_density(x)
    return -np.trapezoid(np.exp(log_p) * log_p, x)


def test_gamma_and_beta_entropy_by_quadrature():
    conc, rate = 2.5, 1.7
    gamma = D.Gamma(t64(conc), t64(rate))
    ref = _quadrature_entropy(lambda x: conc * math.log(rate) + (conc - 1) * np.log(x) - rate * x
                              - math.lgamma(conc), 0, 60)
    assert abs(float(gamma.entropy()) - ref) < 1e-6
    a, b = 2.2, 3.5
    beta = D.Beta(t64(a), t64(b))
    ref = _quadrature_entropy(lambda x: (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - float(_log_beta(a, b)), 0, 1)
    assert abs(float(beta.entropy()) - ref) < 1e-6


def test_binomial_entropy_sums_over_the_support():
    k = np.arange(COUNT + 1)[:, None, None]
    log_p = UNIVARIATE["Binomial"][2](k)
    assert_close(arr(D.Binomial(COUNT, probs=t64(PROBS)).entropy()), -(np.exp(log_p) * log_p).sum(0), rtol=1e-12)


def test_cdf_and_icdf():
    x = LOC + 0.3
    normal = D.Normal(t64(LOC), t64(SCALE))
    ref = 0.5 * (1 + np.vectorize(math.erf)((x - LOC) / (SCALE * math.sqrt(2))))
    assert_close(arr(normal.cdf(t64(x))), ref, rtol=1e-12, what="Normal.cdf")
    laplace = D.Laplace(t64(LOC), t64(SCALE))
    ref = np.where(x < LOC, 0.5 * np.exp((x - LOC) / SCALE), 1 - 0.5 * np.exp(-(x - LOC) / SCALE))
    assert_close(arr(laplace.cdf(t64(x))), ref, rtol=1e-12, what="Laplace.cdf")
    exponential = D.Exponential(t64(RATE))
    assert_close(arr(exponential.cdf(t64(SCALE))), -np.expm1(-RATE * SCALE), rtol=1e-12, what="Exponential.cdf")
    uniform = D.Uniform(t64(LOC), t64(LOC + SCALE))
    assert_close(arr(uniform.cdf(t64(LOC + 0.4 * SCALE))), np.full(LOC.shape, 0.4), rtol=1e-12, what="Uniform.cdf")
    lognormal = D.LogNormal(t64(LOC), t64(SCALE))
    assert_close(arr(lognormal.cdf(t64(np.exp(x)))), arr(normal.cdf(t64(x))), rtol=1e-12, what="LogNormal.cdf")
    q = np.linspace(0.05, 0.95, 6).reshape(2, 3)
    for dist in (normal, laplace, exponential, uniform, lognormal):  # icdf inverts cdf
        assert_close(arr(dist.cdf(dist.icdf(t64(q)))), q, rtol=1e-11, what=f"{type(dist).__name__} icdf")


def test_gamma_cdf_closed_forms_and_gradient():
    x = np.array([[0.05, 0.7, 3.0], [9.0, 0.3, 1.5]])
    rate = RATE
    # Gamma(1, rate) is Exponential(rate); Gamma(3, rate): 1 - e^-y (1 + y + y^2/2) with y = rate x
    assert_close(arr(D.Gamma(t64(np.ones((2, 3))), t64(rate)).cdf(t64(x))), -np.expm1(-rate * x), rtol=1e-12,
                 what="Gamma(1) cdf")
    y = rate * x
    assert_close(arr(D.Gamma(t64(np.full((2, 3), 3.0)), t64(rate)).cdf(t64(x))),
                 1 - np.exp(-y) * (1 + y + y * y / 2), rtol=1e-11, atol=1e-15, what="Gamma(3) cdf")
    assert gradcheck(lambda c, r, v: D.Gamma(c, r).cdf(v),
                     [t64(CONC, requires_grad=True), t64(rate, requires_grad=True), t64(x, requires_grad=True)],
                     rtol=1e-5)


def test_categorical_log_prob_entropy_and_support():
    dist = D.Categorical(probs=t64(CAT_PROBS))
    p = CAT_PROBS / CAT_PROBS.sum(-1, keepdims=True)
    index = np.array([[3, 0], [1, 2], [2, 2]])  # (3, 2) broadcast against batch (2,)
    assert_close(arr(dist.log_prob(dlcore.tensor(index))), np.log(p[[0, 1], index]), rtol=1e-12)
    assert_close(arr(dist.entropy()), -(p * np.log(p)).sum(-1), rtol=1e-12)
    same = D.Categorical(logits=t64(np.log(CAT_PROBS) + 5.0))  # unnormalized logits: same distribution
    assert_close(arr(same.probs), p, rtol=1e-12)
    support = dist.enumerate_support()
    assert support.shape == (4, 2) and (arr(support)[:, 0] == np.arange(4)).all()
    assert dist.enumerate_support(expand=False).shape == (4, 1)
    assert (arr(dist.mode) == p.argmax(-1)).all()


def test_categorical_entropy_with_a_zero_probability_is_finite():
    dist = D.Categorical(probs=t64([0.0, 0.25, 0.75]))
    assert_close(float(dist.entropy()), -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rtol=1e-12)


def test_one_hot_categorical():
    dist = D.OneHotCategorical(probs=t64(CAT_PROBS))
    p = CAT_PROBS / CAT_PROBS.sum(-1, keepdims=True)
    assert dist.batch_shape == (2,) and dist.event_shape == (4,)
    value = np.eye(4)[[2, 0]]
    assert_close(arr(dist.log_prob(t64(value))), np.log(p[[0, 1], [2, 0]]), rtol=1e-12)
    dlcore.manual_seed(0)
    sample = arr(dist.sample((500,)))
    assert sample.shape == (500, 2, 4) and (sample.sum(-1) == 1).all()
    assert dist.enumerate_support().shape == (4, 2, 4)


def _mvn_parameters():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + 3 * np.eye(3)
    return rng.normal(size=(2, 3)), cov


def _mvn_log_prob_reference(x, loc, cov):
    diff = x - loc
    maha = np.einsum("...i,...ij,...j->...", diff, np.linalg.inv(cov), diff)
    return -0.5 * (3 * LOG_2PI + maha + np.linalg.slogdet(cov)[1])


@pytest.mark.parametrize("given", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_parametrisations_agree(given):
    loc, cov = _mvn_parameters()
    matrix = {"covariance_matrix": cov, "precision_matrix": np.linalg.inv(cov),
              "scale_tril": np.linalg.cholesky(cov)}[given]
    dist = D.MultivariateNormal(t64(loc), **{given: t64(matrix)})
    assert dist.batch_shape == (2,) and dist.event_shape == (3,)
    x = np.random.default_rng(4).normal(size=(5, 2, 3))
    assert_close(arr(dist.log_prob(t64(x))), _mvn_log_prob_reference(x, loc, cov), rtol=1e-11, what="log_prob")
    assert_close(arr(dist.covariance_matrix), cov, rtol=1e-11, atol=1e-12, what="covariance")
    assert_close(arr(dist.precision_matrix), np.linalg.inv(cov), rtol=1e-10, atol=1e-12, what="precision")
    assert_close(arr(dist.variance), np.diagonal(cov, axis1=-2, axis2=-1), rtol=1e-11, what="variance")
    entropy = 0.5 * 3 * (1 + LOG_2PI) + 0.5 * np.linalg.slogdet(cov)[1]
    assert_close(arr(dist.entropy()), entropy, rtol=1e-12, what="entropy")


def test_multivariate_normal_broadcasts_loc_over_one_matrix():
    loc, cov = _mvn_parameters()
    dist = D.MultivariateNormal(t64(np.stack([loc[0]] * 4)), t64(cov[0]))
    assert dist.batch_shape == (4,)
    x = np.random.default_rng(5).normal(size=(4, 3))
    assert_close(arr(dist.log_prob(t64(x))), _mvn_log_prob_reference(x, loc[0], cov[0]), rtol=1e-11)


def test_dirichlet_log_prob_mean_variance():
    dist = D.Dirichlet(t64(ALPHA))
    x = np.random.default_rng(6).dirichlet(np.ones(4), size=2)
    total = ALPHA.sum(-1)
    ref = ((ALPHA - 1) * np.log(x)).sum(-1) + _lgamma(total) - _lgamma(ALPHA).sum(-1)
    assert_close(arr(dist.log_prob(t64(x))), ref, rtol=1e-12)
    assert_close(arr(dist.mean), ALPHA / total[:, None], rtol=1e-12)
    assert_close(arr(dist.variance), ALPHA * (total[:, None] - ALPHA) / (total[:, None] ** 2 * (total[:, None] + 1)),
                 rtol=1e-12)


def test_beta_and_dirichlet_modes():
    a = np.array([3.0, 0.5, 2.0, 1.0, 0.4])
    b = np.array([2.0, 2.0, 0.9, 1.0, 0.8])
    # interior mode; the unbounded end at 0 (a < 1) or 1 (b < 1); none for the uniform; a one-hot when both < 1
    expected = np.array([(3 - 1) / (3 + 2 - 2), 0.0, 1.0, np.nan, 0.0])
    assert_close(arr(D.Beta(t64(a), t64(b)).mode), expected, rtol=1e-12)
    alpha = np.array([[2.0, 3.0, 0.5], [0.2, 0.7, 0.4]])
    assert_close(arr(D.Dirichlet(t64(alpha)).mode), [[1 / 3, 2 / 3, 0.0], [0.0, 1.0, 0.0]], rtol=1e-12)


def test_independent_sums_the_reinterpreted_dims():
    base = D.Normal(t64(LOC), t64(SCALE))
    dist = D.Independent(base, 1)
    assert dist.batch_shape == (2,) and dist.event_shape == (3,)
    x = LOC + 0.3
    assert_close(arr(dist.log_prob(t64(x))), _lp_normal(x).sum(-1), rtol=1e-12)
    assert_close(arr(dist.entropy()), ENTROPY["Normal"].sum(-1), rtol=1e-12)


def test_tanh_squashed_gaussian_log_prob_is_the_change_of_variables():
    dist = D.TransformedDistribution(D.Normal(t64(LOC), t64(SCALE)), [D.TanhTransform()])
    y = np.tanh(LOC + 0.3)
    x = np.arctanh(y)
    assert_close(arr(dist.log_prob(t64(y))), _lp_normal(x) - np.log1p(-y ** 2), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("transform, domain_point", [
    (D.ExpTransform(), 0.7), (D.AffineTransform(2.0, -3.0), 0.7), (D.SigmoidTransform(), -1.3),
    (D.TanhTransform(), 0.4), (D.ComposeTransform([D.TanhTransform(), D.AffineTransform(1.0, 2.0)]), 0.4)])
def test_transform_inverse_and_log_det_by_finite_differences(transform, domain_point):
    x = t64([domain_point, domain_point - 0.5])
    y = transform(x)
    assert_close(arr(transform.inv(y)), arr(x), rtol=1e-12, what="inverse")
    h = 1e-6
    slope = (arr(transform(t64(arr(x) + h))) - arr(transform(t64(arr(x) - h)))) / (2 * h)
    assert_close(arr(transform.log_abs_det_jacobian(x, y)), np.log(np.abs(slope)), rtol=1e-7, atol=1e-8)


# ---- sampling -----------------------------------------------------------------------------------------------------
SAMPLED = sorted(UNIVARIATE)


@pytest.mark.parametrize("name", SAMPLED)
def test_sample_moments_converge_within_standard_errors(name):
    make, _, _, ref_mean, ref_variance = UNIVARIATE[name]
    dlcore.manual_seed(12)
    samples = arr(make().sample((N_SAMPLES,)))
    assert samples.shape == (N_SAMPLES, 2, 3)
    mean_error = np.abs(samples.mean(0) - ref_mean) / np.sqrt(ref_variance / N_SAMPLES)
    assert mean_error.max() < Z, f"sample mean off by {mean_error.max():.1f} standard errors"
    squared = (samples - ref_mean) ** 2  # its mean estimates the variance; its spread gives the standard error
    variance_error = np.abs(squared.mean(0) - ref_variance) / (squared.std(0) / np.sqrt(N_SAMPLES))
    assert variance_error.max() < Z, f"sample variance off by {variance_error.max():.1f} standard errors"


@pytest.mark.parametrize("make", [
    lambda: D.Dirichlet(t64(ALPHA)), lambda: D.Categorical(probs=t64(CAT_PROBS)),
    lambda: D.MultivariateNormal(*map(t64, _mvn_parameters()))], ids=["Dirichlet", "Categorical", "MVN"])
def test_multivariate_sample_means_converge(make):
    dist = make()
    dlcore.manual_seed(13)
    samples = arr(dist.sample((N_SAMPLES,)))
    if isinstance(dist, D.Categorical):  # compare category frequencies with the probabilities
        samples = np.eye(4)[samples.astype(int)]
        ref_mean = arr(dist.probs)
    else:
        ref_mean = arr(dist.mean)
    error = np.abs(samples.mean(0) - ref_mean) / (samples.std(0) / math.sqrt(N_SAMPLES))
    assert error.max() < Z


def test_multivariate_normal_sample_covariance():
    loc, cov = _mvn_parameters()
    dlcore.manual_seed(14)
    samples = arr(D.MultivariateNormal(t64(loc), t64(cov)).sample((N_SAMPLES,)))
    centred = samples - loc
    products = centred[..., :, None] * centred[..., None, :]
    error = np.abs(products.mean(0) - cov) / (products.std(0) / math.sqrt(N_SAMPLES))
    assert error.max() < Z


@pytest.mark.parametrize("name", [n for n in SAMPLED if n != "Poisson"])  # Poisson: no entropy, as torch
def test_entropy_is_minus_the_expected_log_prob(name):
    dist = UNIVARIATE[name][0]()
    entropy = arr(dist.entropy())
    dlcore.manual_seed(15)
    log_p = arr(dist.log_prob(dist.sample((N_SAMPLES,))))
    error = np.abs(-log_p.mean(0) - entropy) / (log_p.std(0) / math.sqrt(N_SAMPLES) + 1e-12)
    assert error.max() < Z


def test_manual_seed_makes_samples_reproducible():
    dists = [D.Normal(t64(LOC), t64(SCALE)), D.Gamma(t64(CONC), t64(RATE)), D.Categorical(probs=t64(CAT_PROBS)),
             D.MultivariateNormal(*map(t64, _mvn_parameters())), D.Bernoulli(probs=t64(PROBS))]
    dlcore.manual_seed(7)
    first = [arr(d.sample((3,))) for d in dists]
    dlcore.manual_seed(7)
    second = [arr(d.sample((3,))) for d in dists]
    dlcore.manual_seed(8)
    third = [arr(d.sample((3,))) for d in dists]
    for a, b, c in zip(first, second, third):
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


def test_sample_shapes_and_dtype():
    dist = D.Normal(dlcore.zeros(2, 3), dlcore.ones(2, 3))  # float32 parameters -> float32 samples
    assert dist.sample().shape == (2, 3) and dist.sample((4, 5)).shape == (4, 5, 2, 3)
    assert dist.rsample((4,)).dtype == np.float32
    assert D.Normal(0.0, 1.0).sample((7,)).shape == (7,)
    assert D.Normal(0.0, 1.0).sample(7).shape == (7,)


def test_poisson_has_no_entropy_as_torch():
    with pytest.raises(NotImplementedError, match="entropy"):
        D.Poisson(t64(RATE)).entropy()


def test_rsample_is_reparameterized_and_sample_is_not():
    loc, scale = t64(LOC, requires_grad=True), t64(SCALE, requires_grad=True)
    dist = D.Normal(loc, scale)
    assert dist.rsample().requires_grad and not dist.sample().requires_grad
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Poisson(t64(RATE)).rsample()


def test_expand():
    dist = D.Normal(t64([0.0, 1.0]), t64([1.0, 2.0])).expand((3, 2))
    assert dist.batch_shape == (3, 2) and dist.sample().shape == (3, 2)
    assert_close(arr(dist.log_prob(t64(np.zeros((3, 2))))), np.tile(_lp_1d([0.0, 1.0], [1.0, 2.0], 0.0), (3, 1)),
                 rtol=1e-12)
    mvn = D.MultivariateNormal(*map(t64, _mvn_parameters())).expand((4, 2))
    assert mvn.batch_shape == (4, 2) and mvn.sample().shape == (4, 2, 3)


def _lp_1d(loc, scale, x):
    loc, scale = np.asarray(loc), np.asarray(scale)
    return -((x - loc) ** 2) / (2 * scale ** 2) - np.log(scale) - 0.5 * LOG_2PI


# ---- gradients ----------------------------------------------------------------------------------------------------
def _seeded(fn):
    """fn with the global generator reset first, so gradcheck's repeated calls see the same noise."""
    def run(*args):
        dlcore.manual_seed(99)
        return fn(*args)
    return run


GRADCHECKS = {
    "Normal": (lambda mu, s: D.Normal(mu, s), [LOC[0], SCALE[0]], LOC[0] + 0.3),
    "LogNormal": (lambda mu, s: D.LogNormal(mu, s), [LOC[0], SCALE[0]], np.exp(LOC[0])),
    "Uniform": (lambda mu, s: D.Uniform(mu, mu + s), [LOC[0], SCALE[0]], LOC[0] + 0.2 * SCALE[0]),
    "Exponential": (lambda r: D.Exponential(r), [RATE[0]], SCALE[0]),
    "Laplace": (lambda mu, s: D.Laplace(mu, s), [LOC[0], SCALE[0]], LOC[0] + 0.3),
    "Gamma": (lambda c, r: D.Gamma(c, r), [CONC[0], RATE[0]], SCALE[0]),
    "Beta": (lambda a, b: D.Beta(a, b), [CONC[0], RATE[0]], PROBS[0]),
    "Dirichlet": (lambda a: D.Dirichlet(a), [ALPHA], np.full((2, 4), 0.25)),
    "Bernoulli": (lambda p: D.Bernoulli(probs=p), [PROBS[0]], np.array([0.0, 1.0, 1.0])),
    "Bernoulli(logits)": (lambda lg: D.Bernoulli(logits=lg), [LOC[0]], np.array([0.0, 1.0, 1.0])),
    "Categorical": (lambda lg: D.Categorical(logits=lg), [CAT_PROBS], np.array([3.0, 1.0])),
    "Poisson": (lambda r: D.Poisson(r), [RATE[0]], np.array([0.0, 2.0, 5.0])),
    "Binomial": (lambda p: D.Binomial(COUNT, probs=p), [PROBS[0]], np.array([0.0, 2.0, 6.0])),
    "Geometric": (lambda p: D.Geometric(probs=p), [PROBS[0]], np.array([0.0, 2.0, 5.0])),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_log_prob_and_entropy_gradcheck(name):
    make, params, value = GRADCHECKS[name]
    value = t64(value) if name != "Categorical" else dlcore.tensor(value.astype(np.int64))

    def log_prob_and_entropy(*p):
        dist = make(*p)
        try:
            return dist.log_prob(value) + dist.entropy()
        except NotImplementedError:  # Poisson: no entropy (as torch)
            return dist.log_prob(value)
    assert gradcheck(log_prob_and_entropy, [t64(p, requires_grad=True) for p in params])


def _mean_gradient_error(dist_of, params, sample_statistic, expected_gradients):
    """|mean over samples of d statistic(x)/d params - d E[statistic]/d params| in standard errors: the pathwise
    (implicit) gradient is unbiased, so its sample mean must converge to the exact gradient of the expectation."""
    dlcore.manual_seed(31)
    leaves = [t64(p, requires_grad=True) for p in params]
    per_sample = []
    for _ in range(N_SAMPLES // 2000):  # batches of 2000: the spread across batches gives the standard error
        for leaf in leaves:
            leaf.grad = None
        sample_statistic(dist_of(*leaves).rsample((2000,))).sum().backward()
        per_sample.append(np.concatenate([arr(leaf.grad).ravel() / 2000 for leaf in leaves]))
    per_sample = np.array(per_sample)
    standard_error = per_sample.std(0) / math.sqrt(len(per_sample))
    expected = np.concatenate([np.ravel(e) for e in expected_gradients])
    return np.abs(per_sample.mean(0) - expected) / standard_error


def test_gamma_rsample_gradients_are_unbiased():
    a, rate = np.array([0.3, 1.0, 2.5, 20.0]), np.array([1.0, 2.0, 0.5, 1.5])
    # E[x] = a / rate, E[x^2] = a (a + 1) / rate^2
    assert _mean_gradient_error(D.Gamma, [a, rate], lambda x: x, [1 / rate, -a / rate ** 2]).max() < Z
    assert _mean_gradient_error(D.Gamma, [a, rate], lambda x: x * x,
                                [(2 * a + 1) / rate ** 2, -2 * a * (a + 1) / rate ** 3]).max() < Z


def test_beta_and_dirichlet_rsample_gradients_are_unbiased():
    a, b = np.array([0.5, 3.0]), np.array([2.0, 0.7])
    assert _mean_gradient_error(D.Beta, [a, b], lambda x: x, [b / (a + b) ** 2, -a / (a + b) ** 2]).max() < Z
    alpha = np.array([0.5, 1.0, 2.0])
    total = alpha.sum()
    d_first_mean = (np.eye(3)[0] * total - alpha[0]) / total ** 2  # d (alpha_0 / total) / d alpha
    assert _mean_gradient_error(D.Dirichlet, [alpha], lambda x: x[..., 0], [d_first_mean]).max() < Z


@pytest.mark.parametrize("name", ["Normal", "LogNormal", "Uniform", "Exponential", "Laplace"])
def test_rsample_gradcheck(name):
    make, params, _ = GRADCHECKS[name]
    assert gradcheck(_seeded(lambda *p: make(*p).rsample((4,))), [t64(p, requires_grad=True) for p in params])


def _symmetric_positive_definite(m):
    return m @ m.transpose(-1, -2) + t64(np.eye(3))


@pytest.mark.parametrize("given", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_gradcheck(given):
    loc, cov = _mvn_parameters()
    root = np.linalg.cholesky(cov)[0]
    value = t64(np.random.default_rng(8).normal(size=(2, 3)))

    def make(mu, m):
        matrix = m.tril() if given == "scale_tril" else _symmetric_positive_definite(m)
        return D.MultivariateNormal(mu, **{given: matrix})
    params = [t64(loc[0], requires_grad=True), t64(root, requires_grad=True)]
    assert gradcheck(lambda mu, m: make(mu, m).log_prob(value) + make(mu, m).entropy(), params)
    assert gradcheck(_seeded(lambda mu, m: make(mu, m).rsample((2,))), params)


def test_squashed_gaussian_policy_gradcheck():
    """The SAC policy: a = tanh(u), u ~ Normal; log pi(a) through rsample, w.r.t. loc and scale."""
    def log_pi_of_sampled_action(loc, scale):
        dist = D.TransformedDistribution(D.Normal(loc, scale), [D.TanhTransform()])
        return dist.log_prob(dist.rsample((3,)))
    params = [t64(LOC[0], requires_grad=True), t64(SCALE[0] * 0.5, requires_grad=True)]
    assert gradcheck(_seeded(log_pi_of_sampled_action), params, atol=1e-5)


def _squared_gradient_norm(fn):
    """x -> |d sum(fn(x)) / dx|^2 with the gradient on the tape: its gradcheck checks the double backward
    (gradient penalties, Hessian-vector products through log_prob)."""
    def penalty(*inputs):
        grads = dlcore.autograd.grad(fn(*inputs).sum(), list(inputs), create_graph=True)
        return sum((g * g).sum() for g in grads)
    return penalty


def test_double_backward_through_the_special_functions():
    from dlcore.distributions._special import cholesky, erfinv, lgamma, solve_lower_triangular

    assert gradcheck(_squared_gradient_norm(lambda x: lgamma(x) + erfinv(x / 3)), [t64([0.4, 1.3, 2.2], True)])
    root = np.array([[1.0, 0.3, 0.1], [0.2, 1.1, 0.0], [0.4, 0.1, 0.9]])
    assert gradcheck(_squared_gradient_norm(lambda m: cholesky(_symmetric_positive_definite(m))), [t64(root, True)])
    assert gradcheck(_squared_gradient_norm(lambda low, b: solve_lower_triangular(low.tril(), b)),
                     [t64(root + np.eye(3), True), t64(np.ones((3, 2)), True)])


def test_double_backward_through_log_probs():
    root = np.array([[1.0, 0.3, 0.1], [0.2, 1.1, 0.0], [0.4, 0.1, 0.9]])
    value = t64(np.ones(3))
    assert gradcheck(_squared_gradient_norm(
        lambda m, mu: D.MultivariateNormal(mu, _symmetric_positive_definite(m)).log_prob(value)),
        [t64(root, True), t64([0.1, 0.2, 0.3], True)])
    assert gradcheck(_squared_gradient_norm(lambda a, b: D.Beta(a, b).log_prob(t64([0.3, 0.6]))),
                     [t64([0.5, 2.0], True), t64([1.5, 3.0], True)])


# ---- KL divergence ------------------------------------------------------------------------------------------------
def _kl_reference_normal(p_loc, p_scale, q_loc, q_scale):
    return np.log(q_scale / p_scale) + (p_scale ** 2 + (p_loc - q_loc) ** 2) / (2 * q_scale ** 2) - 0.5


#: name -> (p, q, closed form in NumPy)
def _kl_cases():
    p_probs, q_probs = CAT_PROBS / CAT_PROBS.sum(-1, keepdims=True), ALPHA / ALPHA.sum(-1, keepdims=True)
    loc, cov = _mvn_parameters()
    q_cov = cov[::-1] + np.eye(3)
    q_loc = loc[::-1] * 0.5
    mvn_ref = 0.5 * (np.trace(np.linalg.inv(q_cov) @ cov, axis1=-2, axis2=-1)
                     + np.einsum("bi,bij,bj->b", q_loc - loc, np.linalg.inv(q_cov), q_loc - loc) - 3
                     + np.linalg.slogdet(q_cov)[1] - np.linalg.slogdet(cov)[1])
    return {
        "Normal": (D.Normal(t64(LOC), t64(SCALE)), D.Normal(t64(-LOC), t64(RATE)),
                   _kl_reference_normal(LOC, SCALE, -LOC, RATE)),
        "Bernoulli": (D.Bernoulli(probs=t64(PROBS)), D.Bernoulli(probs=t64(1 - PROBS ** 2)),
                      PROBS * np.log(PROBS / (1 - PROBS ** 2)) + (1 - PROBS) * np.log((1 - PROBS) / PROBS ** 2)),
        "Categorical": (D.Categorical(probs=t64(p_probs)), D.Categorical(probs=t64(q_probs)),
                        (p_probs * np.log(p_probs / q_probs)).sum(-1)),
        "Exponential": (D.Exponential(t64(RATE)), D.Exponential(t64(CONC)),
                        np.log(RATE / CONC) + CONC / RATE - 1),
        "Uniform": (D.Uniform(t64(LOC), t64(LOC + SCALE)), D.Uniform(t64(LOC - 1), t64(LOC + SCALE + 2)),
                    np.log((SCALE + 3) / SCALE)),
        "MultivariateNormal": (D.MultivariateNormal(t64(loc), t64(cov)), D.MultivariateNormal(t64(q_loc), t64(q_cov)),
                               mvn_ref),
        "Gamma": (D.Gamma(t64(CONC), t64(RATE)), D.Gamma(t64(RATE), t64(CONC)), None),
        "Beta": (D.Beta(t64(CONC), t64(RATE)), D.Beta(t64(RATE), t64(CONC + 0.5)), None),
        "Dirichlet": (D.Dirichlet(t64(ALPHA)), D.Dirichlet(t64(ALPHA[::-1] + 0.3)), None),
        "Laplace": (D.Laplace(t64(LOC), t64(SCALE)), D.Laplace(t64(-LOC), t64(RATE)), None),
        "Poisson": (D.Poisson(t64(RATE)), D.Poisson(t64(CONC)), RATE * np.log(RATE / CONC) - RATE + CONC),
    }


KL_CASES = _kl_cases()


@pytest.mark.parametrize("name", [n for n, case in KL_CASES.items() if case[2] is not None])
def test_kl_matches_closed_form(name):
    p, q, ref = KL_CASES[name]
    assert_close(arr(D.kl_divergence(p, q)), ref, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_matches_monte_carlo(name):
    p, q, _ = KL_CASES[name]
    dlcore.manual_seed(21)
    x = p.sample((N_SAMPLES,))
    log_ratio = arr(p.log_prob(x)) - arr(q.log_prob(x))
    standard_error = log_ratio.std(0) / math.sqrt(N_SAMPLES) + 1e-12  # (zero for Uniform: a constant ratio)
    error = np.abs(log_ratio.mean(0) - arr(D.kl_divergence(p, q))) / standard_error
    assert error.max() < Z


def test_kl_gradcheck_gamma_beta_dirichlet():
    assert gradcheck(lambda c, r: D.kl_divergence(D.Gamma(c, r), D.Gamma(r, c)),
                     [t64(CONC[0], requires_grad=True), t64(RATE[0], requires_grad=True)])
    assert gradcheck(lambda a: D.kl_divergence(D.Dirichlet(a), D.Dirichlet(a * a + 0.1)),
                     [t64(ALPHA, requires_grad=True)])


def test_kl_uniform_outside_support_is_infinite_and_unknown_pairs_raise():
    kl = D.kl_divergence(D.Uniform(t64(0.0), t64(2.0)), D.Uniform(t64(0.5), t64(3.0)))
    assert math.isinf(float(kl))
    with pytest.raises(NotImplementedError, match="register_kl"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))


def test_bernoulli_kl_and_geometric_at_certain_events():
    p, q = [0.0, 1.0, 0.3, 0.3, 0.0, 1.0], [0.5, 0.5, 0.0, 1.0, 0.0, 1.0]
    kl = arr(D.kl_divergence(D.Bernoulli(probs=dlcore.tensor(p)), D.Bernoulli(probs=dlcore.tensor(q))))
    assert np.isposinf(kl[2:4]).all()  # p puts mass where q has none
    assert_close(kl[[0, 1, 4, 5]], [math.log(2), math.log(2), 0.0, 0.0], rtol=1e-6)
    # p = 1: the first trial succeeds surely; float32 must give log 1 = 0 exactly, not the clamped logit's -1e-7
    assert float(D.Geometric(probs=dlcore.tensor(1.0)).log_prob(dlcore.tensor(0.0))) == 0.0


def test_register_kl_prefers_the_most_specific_pair():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _constant(p, q):
        return p.loc * 0 + 42.0
    try:
        assert float(D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0))) == 42.0
        assert float(D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(0.0, 1.0))) == 0.0  # the base pair still
    finally:
        from dlcore.distributions.kl import _KL_REGISTRY

        del _KL_REGISTRY[MyNormal, D.Normal]


# ---- validation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, parameter", [
    (lambda: D.Normal(0.0, -1.0), "scale"),
    (lambda: D.Exponential(t64([1.0, 0.0])), "rate"),
    (lambda: D.Uniform(1.0, 1.0), "high"),
    (lambda: D.Bernoulli(probs=1.5), "probs"),
    (lambda: D.Categorical(probs=t64([0.5, -0.1, 0.6])), "probs"),
    (lambda: D.Gamma(0.0, 1.0), "concentration"),
    (lambda: D.Beta(1.0, -2.0), "concentration0"),
    (lambda: D.Dirichlet(t64([1.0, -1.0])), "concentration"),
    (lambda: D.Geometric(probs=0.0), "probs"),
    (lambda: D.Binomial(2.5, probs=0.3), "total_count"),
    (lambda: D.MultivariateNormal(t64([0.0, 0.0]), t64([[1.0, 2.0], [2.0, 1.0]])), "covariance_matrix"),
    (lambda: D.MultivariateNormal(t64([0.0, 0.0]), scale_tril=t64([[1.0, 0.0], [2.0, -1.0]])), "scale_tril"),
    (lambda: D.LogNormal(0.0, 0.0), "scale"),
])
def test_invalid_parameters_raise_naming_the_parameter(make, parameter):
    with pytest.raises(ValueError, match=f"parameter {parameter} "):
        make()


@pytest.mark.parametrize("dist, value", [
    (D.Exponential(1.0), -0.5), (D.Bernoulli(probs=0.3), 0.5), (D.Poisson(2.0), 1.5),
    (D.Categorical(probs=t64([0.5, 0.5])), 2), (D.Beta(2.0, 2.0), 1.5), (D.Uniform(0.0, 1.0), 1.0),
    (D.Dirichlet(t64([1.0, 1.0])), t64([0.7, 0.7])), (D.Binomial(3, probs=0.5), 4.0),
    (D.LogNormal(0.0, 1.0), -1.0)])
def test_log_prob_outside_the_support_raises(dist, value):
    value = value if isinstance(value, dlcore.Tensor) else dlcore.tensor(value)
    with pytest.raises(ValueError, match="support"):
        dist.log_prob(value)


def test_validation_can_be_turned_off():
    dist = D.Normal(0.0, -1.0, validate_args=False)
    with np.errstate(invalid="ignore"):  # log of the negative scale: NaN, as torch without validation
        assert math.isnan(float(dist.log_prob(dlcore.tensor(0.0))))
    assert float(D.Exponential(1.0, validate_args=False).log_prob(dlcore.tensor(-1.0))) == pytest.approx(1.0)
    assert float(D.Uniform(0.0, 1.0, validate_args=False).log_prob(dlcore.tensor(2.0))) == -math.inf
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


def test_positive_definite_check_names_the_failing_matrices():
    good = np.eye(2)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert D.constraints.positive_definite.check(np.stack([good, bad, good])).tolist() == [True, False, True]
    assert D.constraints.positive_definite.check(np.stack([good, good])).tolist() == [True, True]


def test_affine_sign_needs_one_sign():
    assert D.AffineTransform(0.0, t64([2.0, 3.0])).sign == 1
    assert D.AffineTransform(0.0, -2.0).sign == -1
    with pytest.raises(NotImplementedError, match="mixed"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), D.AffineTransform(0.0, t64([2.0, -3.0]))).cdf(t64([0.1, 0.2]))


def test_value_shape_must_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        D.Normal(t64(np.zeros(3)), t64(np.ones(3))).log_prob(t64(np.zeros(4)))
    with pytest.raises(ValueError, match="event_shape"):
        D.Dirichlet(t64([1.0, 1.0, 1.0])).log_prob(t64([0.5, 0.5]))


def test_exactly_one_parametrisation():
    with pytest.raises(ValueError, match="either"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="either"):
        D.Categorical(probs=t64([0.5, 0.5]), logits=t64([0.0, 0.0]))
    with pytest.raises(ValueError, match="exactly one"):
        D.MultivariateNormal(t64([0.0]))


def test_installed_as_torch_distributions():
    from dlcore._torch_alias import TORCH_NAMES

    assert TORCH_NAMES["torch.distributions"] == "dlcore.distributions"
