"""lgamma, digamma, erfinv (ops/special.py): identities checked in float64 without SciPy (math.lgamma, math.erf,
the recurrence and reflection formulas, known values), gradients by finite differences, and the NumPy fallbacks
against SciPy where it is installed."""
import math

import numpy as np
import pytest

import dlcore
from dlcore.autograd import gradcheck
from dlcore.ops import special

EULER_GAMMA = 0.5772156649015329


@pytest.fixture
def points(rng):
    """Positive and negative non-integers, small and large."""
    x = np.concatenate([rng.uniform(-7.5, 7.5, 200), rng.uniform(1e-3, 60, 200), [0.5, 1.0, 2.0, 1e-6, 123.4]])
    return x[np.abs(x - np.round(x)) > 1e-3 * (x < 0)]


DIGAMMAS = {"default": special.digamma_array, "numpy": special.digamma_numpy}
TRIGAMMAS = {"default": special.trigamma_array, "numpy": special.trigamma_numpy}


@pytest.mark.parametrize("path", DIGAMMAS)
def test_digamma_identities(path, points):
    psi = DIGAMMAS[path]
    np.testing.assert_allclose(psi(np.array([1.0, 0.5])), [-EULER_GAMMA, -EULER_GAMMA - 2 * math.log(2)], rtol=1e-14)
    np.testing.assert_allclose(psi(points + 1) - psi(points), 1 / points, rtol=1e-9, atol=1e-11)
    inner = points[(points > 0) & (points < 1)]
    np.testing.assert_allclose(psi(1 - inner) - psi(inner), np.pi / np.tan(np.pi * inner), rtol=1e-9, atol=1e-10)
    # the derivative of math.lgamma by central differences
    h = 1e-5
    big = points[points > 0.5]
    slope = np.array([(math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h) for v in big])
    np.testing.assert_allclose(psi(big), slope, rtol=1e-7, atol=1e-7)
    assert psi(np.array([0.0]))[0] == -np.inf and np.isnan(psi(np.array([-2.0]))[0])


@pytest.mark.parametrize("path", TRIGAMMAS)
def test_trigamma_is_the_derivative_of_digamma(path, points):
    h = 1e-5
    x = points[np.abs(points - np.round(points)) > 0.2]  # central differences are poor next to the poles
    slope = (special.digamma_numpy(x + h) - special.digamma_numpy(x - h)) / (2 * h)
    np.testing.assert_allclose(TRIGAMMAS[path](x), slope, rtol=1e-6)
    np.testing.assert_allclose(TRIGAMMAS[path](np.array([1.0])), [math.pi ** 2 / 6], rtol=1e-14)


@pytest.mark.parametrize("path", ["default", "numpy"])
def test_erfinv_inverts_erf(path, rng):
    inverse = special.erfinv_array if path == "default" else special.erfinv_numpy
    y = np.concatenate([rng.uniform(-1, 1, 500), [0.0, 0.5, -0.999999, 0.9999999]])
    x = inverse(y)
    np.testing.assert_allclose([math.erf(v) for v in x], y, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(inverse(np.array([1.0, -1.0])), [np.inf, -np.inf])
    assert np.isnan(inverse(np.array([1.5]))[0])


def test_tensor_methods_values_gradients_and_dtypes(rng):
    x = rng.uniform(0.2, 6, (3, 4))
    np.testing.assert_allclose(dlcore.tensor(x).lgamma().numpy(), np.vectorize(math.lgamma)(x), rtol=1e-14)
    for name in ("lgamma", "digamma"):
        assert gradcheck(lambda t, n=name: getattr(t, n)(), (dlcore.tensor(x, requires_grad=True),))
    y = rng.uniform(-0.9, 0.9, (3, 4))
    assert gradcheck(lambda t: t.erfinv(), (dlcore.tensor(y, requires_grad=True),))
    assert dlcore.tensor(x.astype(np.float32)).digamma().dtype == np.float32
    assert dlcore.lgamma(dlcore.tensor([3])).dtype == np.float32  # integers give floats, as torch
    np.testing.assert_allclose(dlcore.lgamma(dlcore.tensor([3])).item(), math.log(2), rtol=1e-6)


def test_numpy_fallbacks_match_scipy(points, rng):
    sp = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(special.digamma_numpy(points), sp.psi(points), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(special.trigamma_numpy(points), sp.polygamma(1, points), rtol=1e-11)
    y = rng.uniform(-0.999, 0.999, 1000)
    np.testing.assert_allclose(special.erfinv_numpy(y), sp.erfinv(y), rtol=1e-13, atol=1e-15)
