"""nn.init's trunc_normal_, orthogonal_, sparse_, eye_, dirac_, gains and the deprecated spellings."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore.nn import init


def test_trunc_normal_bounds_and_moments():
    dlcore.manual_seed(0)
    w = init.trunc_normal_(dlcore.zeros(400, 500), mean=0.5, std=1.0, a=-1.0, b=1.5).numpy()
    assert w.min() >= -1.0 and w.max() <= 1.5
    # moments of Normal(0.5, 1) truncated to [-1, 1.5] (closed form)
    alpha, beta = -1.5, 1.0
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    mean = 0.5 + (pdf(alpha) - pdf(beta)) / mass
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - ((pdf(alpha) - pdf(beta)) / mass) ** 2
    assert w.mean() == pytest.approx(mean, abs=5 * math.sqrt(var / w.size))
    assert w.var() == pytest.approx(var, rel=0.01)


@pytest.mark.parametrize("shape", [(5, 12), (12, 5), (12, 3, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    m = init.orthogonal_(dlcore.zeros(*shape, dtype=dlcore.float64), gain=2.0).numpy().reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-12)


def test_sparse_eye_dirac():
    s = init.sparse_(dlcore.zeros(10, 6), 0.3).numpy()
    assert ((s == 0).sum(axis=0) >= 3).all() and (s != 0).any()
    np.testing.assert_array_equal(init.eye_(dlcore.zeros(3, 4)).numpy(), np.eye(3, 4))
    w = init.dirac_(dlcore.zeros(3, 3, 3, 3))
    x = dlcore.randn(2, 3, 5, 5)
    np.testing.assert_allclose(F.conv2d(x, w, padding=1).numpy(), x.numpy(), atol=1e-6)  # the identity
    with pytest.raises(ValueError, match="divisible by groups"):
        init.dirac_(dlcore.zeros(3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="2-D"):
        init.eye_(dlcore.zeros(2, 2, 2))


def test_gains_and_deprecated_spellings():
    assert init.calculate_gain("selu") == 0.75 and init.calculate_gain("conv_transpose3d") == 1.0
    with pytest.warns(FutureWarning, match="normal_"):
        init.normal(dlcore.zeros(3))
