"""Our vectorized exp / log / tanh (csrc/core/simd_math.h) against NumPy float64, in ulps."""
import numpy as np
import pytest

from dlcore.kernels import vexp, vlog, vtanh
from opcheck import ODD_SIZES

FLT_MIN = np.float32(np.finfo(np.float32).tiny)
MAX_ULPS = 3


def ulp_error(got, exact):
    """|got - exact| in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def sweep(lo, hi, n=200_003):
    return np.linspace(lo, hi, n, dtype=np.float32)


@pytest.mark.parametrize("fn,ref,lo,hi", [
    (vexp, np.exp, -87.0, 88.7),        # results normal and finite
    (vtanh, np.tanh, -12.0, 12.0),
    (vlog, np.log, 1e-30, 1e30),
])
def test_accuracy_in_ulps(cpu_backend, fn, ref, lo, hi):
    x = sweep(lo, hi) if fn is not vlog else np.geomspace(lo, hi, 200_003).astype(np.float32)
    got = fn(x, backend=cpu_backend)
    err = ulp_error(got, ref(x.astype(np.float64)))
    assert err.max() <= MAX_ULPS, f"worst {err.max():.2f} ulp at x={x[err.argmax()]!r}"


def test_small_arguments_keep_relative_accuracy(cpu_backend):
    x = np.concatenate([np.geomspace(1e-30, 1.0, 20_000), -np.geomspace(1e-30, 1.0, 20_000)]).astype(np.float32)
    err = ulp_error(vtanh(x, backend=cpu_backend), np.tanh(x.astype(np.float64)))
    assert err.max() <= MAX_ULPS
    y = (1.0 + np.linspace(-0.25, 0.25, 20_001)).astype(np.float32)  # log near 1 (result near 0)
    err = ulp_error(vlog(y[y != 1], backend=cpu_backend), np.log(y[y != 1].astype(np.float64)))
    assert err.max() <= MAX_ULPS


def test_subnormal_range(cpu_backend):
    x = np.geomspace(1e-45, FLT_MIN, 5000).astype(np.float32)
    x = x[x > 0]
    assert ulp_error(vlog(x, backend=cpu_backend), np.log(x.astype(np.float64))).max() <= MAX_ULPS
    # exp into the subnormal range: correct to an absolute half-subnormal-ish bound.
    t = sweep(-103.0, -87.5, 10_001)
    exact = np.exp(t.astype(np.float64))
    assert np.all(np.abs(vexp(t, backend=cpu_backend) - exact) <= 2e-45 + 1e-6 * exact)


def test_special_values(cpu_backend):
    inf, nan = np.inf, np.nan
    x = np.array([inf, -inf, nan, 0.0, -0.0, 89.0, 1000.0, -104.0, -1000.0], np.float32)
    e = vexp(x, backend=cpu_backend)
    np.testing.assert_array_equal(e, np.array([inf, 0, nan, 1, 1, inf, inf, 0, 0], np.float32))
    lx = np.array([inf, -inf, nan, 0.0, -0.0, -1.0, 1.0], np.float32)
    np.testing.assert_array_equal(vlog(lx, backend=cpu_backend),
                                  np.array([inf, nan, nan, -inf, -inf, nan, 0.0], np.float32))
    tx = np.array([inf, -inf, nan, 0.0, 50.0, -50.0], np.float32)
    np.testing.assert_array_equal(vtanh(tx, backend=cpu_backend), np.array([1, -1, nan, 0, 1, -1], np.float32))


@pytest.mark.parametrize("n", ODD_SIZES)
def test_every_remainder(cpu_backend, rng, n):
    x = rng.uniform(-5, 5, n).astype(np.float32)
    assert ulp_error(vexp(x, backend=cpu_backend), np.exp(x.astype(np.float64))).max() <= MAX_ULPS
    assert ulp_error(vtanh(x, backend=cpu_backend), np.tanh(x.astype(np.float64))).max() <= MAX_ULPS


def test_bad_inputs():
    with pytest.raises(TypeError, match="float32"):
        vexp(np.ones(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        vexp(np.ones((4, 4), np.float32).T)
    with pytest.raises(ValueError, match="unknown backend"):
        vexp(np.ones(3, np.float32), backend="nope")
