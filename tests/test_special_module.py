"""dlcore.special (torch.special's names): values against Python's math module, gradients by gradcheck."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.special as S


def _t(a, grad=False):
    return dlcore.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_values_against_math(rng):
    x = rng.uniform(0.1, 3, 9)
    p = rng.uniform(0.05, 0.95, 9)
    z = rng.standard_normal(9)
    normal_cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    np.testing.assert_allclose(S.gammaln(_t(x)).numpy(), [math.lgamma(v) for v in x], rtol=1e-13)
    np.testing.assert_allclose(S.ndtr(_t(z)).numpy(), normal_cdf, rtol=1e-13)
    np.testing.assert_allclose(S.log_ndtr(_t(z)).numpy(), np.log(normal_cdf), rtol=1e-12)
    np.testing.assert_allclose(S.ndtr(S.ndtri(_t(p))).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(S.expit(S.logit(_t(p))).numpy(), p, rtol=1e-13)
    np.testing.assert_allclose(S.entr(_t([0.0, 0.5, -1.0])).numpy(), [0.0, 0.5 * math.log(2), -math.inf])
    np.testing.assert_allclose(S.xlog1py(_t([0.0, 2.0]), _t([-1.0, 1.0])).numpy(), [0.0, 2 * math.log(2)])
    mvg = 3 * 2 / 4 * math.log(math.pi) + sum(math.lgamma(2.5 - j / 2) for j in range(3))
    assert S.multigammaln(_t([2.5]), 3).item() == pytest.approx(mvg, rel=1e-13)
    # P(1, x) = 1 - exp(-x); P(a, x) + Q(a, x) = 1
    np.testing.assert_allclose(S.gammainc(_t(np.ones(9)), _t(x)).numpy(), 1 - np.exp(-x), rtol=1e-12)
    np.testing.assert_allclose((S.gammainc(_t(x), _t(p)) + S.gammaincc(_t(x), _t(p))).numpy(), 1, rtol=1e-13)
    np.testing.assert_allclose(S.polygamma(1, _t([1.0])).numpy(), [math.pi ** 2 / 6], rtol=1e-12)
    with pytest.raises(NotImplementedError, match="order 2"):
        S.polygamma(2, _t([1.0]))


@pytest.mark.parametrize("name", ["digamma", "gammaln", "erfinv", "ndtr", "log_ndtr", "ndtri", "entr", "sinc",
                                  "logit"])
def test_gradients(rng, name):
    p = rng.uniform(0.1, 0.9, 6)
    assert dlcore.autograd.gradcheck(getattr(S, name), [_t(p, True)])


def test_two_argument_gradients(rng):
    a, x = rng.uniform(0.5, 2, 5), rng.uniform(0.2, 2, 5)
    assert dlcore.autograd.gradcheck(S.xlog1py, [_t(a, True), _t(x, True)])
    assert dlcore.autograd.gradcheck(lambda v: S.gammainc(_t(a), v), [_t(x, True)])
