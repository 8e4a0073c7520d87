"""Softmax, log-softmax and softmax cross-entropy against float64 NumPy."""
import numpy as np
import pytest

from dlcore import kernels as K
from opcheck import ODD_SIZES, assert_close, randn
from optable import log_softmax_ref, softmax_ref


def check_all(x, axis, backend, rng):
    y = K.softmax_forward(x, axis, backend=backend)
    assert_close(y, softmax_ref(x, axis), rtol=1e-5, atol=1e-7, what=f"softmax {x.shape} axis={axis}")
    ly = K.log_softmax_forward(x, axis, backend=backend)
    assert_close(ly, log_softmax_ref(x, axis), rtol=1e-5, atol=1e-5, what=f"log_softmax {x.shape} axis={axis}")
    dy = randn(rng, *x.shape)
    y64, dy64 = y.astype(np.float64), dy.astype(np.float64)
    n = x.shape[axis]
    dx = K.softmax_backward(dy, y, axis, backend=backend)
    ref = y64 * (dy64 - (dy64 * y64).sum(axis=axis, keepdims=True))
    terms = y64 * (np.abs(dy64) + np.abs(dy64 * y64).sum(axis=axis, keepdims=True))
    assert_within_terms(dx, ref, terms, n, "softmax backward")
    dx = K.log_softmax_backward(dy, ly, axis, backend=backend)
    p64 = np.exp(ly.astype(np.float64))
    ref = dy64 - p64 * dy64.sum(axis=axis, keepdims=True)
    terms = np.abs(dy64) + p64 * np.abs(dy64).sum(axis=axis, keepdims=True)
    assert_within_terms(dx, ref, terms, n, "log_softmax backward")


def assert_within_terms(got, ref, terms, n, what):
    """Backward passes subtract a float32 sum over the axis from each element, so
    their error scales with the magnitude of the terms (not of the possibly
    cancelling result) times the sqrt(n) growth of a float32 sum of n terms."""
    assert np.all(np.isfinite(got)), f"{what}: non-finite output"
    err = np.abs(got.astype(np.float64) - ref)
    bound = 1e-6 + 4e-6 * np.sqrt(n) * terms
    assert np.all(err <= bound), f"{what}: max err {err.max():.3g}, worst err/bound {np.max(err / bound):.3g}"


@pytest.mark.parametrize("n", ODD_SIZES)
def test_rows_every_remainder(cpu_backend, rng, n):
    check_all(randn(rng, 3, n, scale=4.0), -1, cpu_backend, rng)


@pytest.mark.parametrize("shape,axis", [((2, 5, 9), 1), ((3, 7, 17), 1), ((4, 33), 0), ((2, 3, 4, 5), 1),
                                        ((2, 10, 1, 3), 1), ((1, 129, 2), 1), ((5,), 0), ((2, 3, 8), -2)])
def test_strided_axes(cpu_backend, rng, shape, axis):
    check_all(randn(rng, *shape, scale=3.0), axis, cpu_backend, rng)


@pytest.mark.parametrize("dims", [(96, 1000), (256, 10), (2, 113)])  # from shapes_softmax.csv
def test_bench_shapes(cpu_backend, rng, dims):
    check_all(randn(rng, *dims, scale=5.0), -1, cpu_backend, rng)


def test_extremes(cpu_backend):
    big = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4, -1e4, -1e4]], np.float32)
    assert_close(K.softmax_forward(big, backend=cpu_backend), softmax_ref(big, -1), rtol=1e-5, atol=1e-7)
    assert_close(K.log_softmax_forward(big, backend=cpu_backend), log_softmax_ref(big, -1), rtol=1e-5, atol=1e-5)
    equal = np.full((3, 17), 2.5, np.float32)
    np.testing.assert_allclose(K.softmax_forward(equal, backend=cpu_backend), 1 / 17, rtol=1e-6)
    ninf = np.array([[-np.inf, 1.0, 2.0, -np.inf, 0.5, 3, 1, 1, 2]], np.float32)
    y = K.softmax_forward(ninf, backend=cpu_backend)
    assert np.all(np.isfinite(y)) and y[0, 0] == 0 and y[0, 3] == 0
    assert_close(y, softmax_ref(ninf, -1), rtol=1e-5, atol=1e-7)
    ly = K.log_softmax_forward(ninf, backend=cpu_backend)
    assert ly[0, 0] == -np.inf and np.all(np.isfinite(ly[0, 1:3]))
    col = np.array([[-np.inf, 1.0], [0.0, -np.inf], [1.0, 2.0]], np.float32)  # strided with -inf
    assert_close(K.softmax_forward(col, 0, backend=cpu_backend), softmax_ref(col, 0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("n,c", [(1, 1), (3, 7), (5, 16), (4, 33), (9, 129), (32, 100)])
def test_cross_entropy(cpu_backend, rng, n, c, ls):
    logits = randn(rng, n, c, scale=3.0)
    t = rng.integers(0, c, n).astype(np.int64)
    loss, lp = K.cross_entropy_forward(logits, t, label_smoothing=ls, backend=cpu_backend)
    lp64 = log_softmax_ref(logits, -1)
    ref = -(1 - ls) * lp64[np.arange(n), t] - ls / c * lp64.sum(axis=1)
    assert_close(lp, lp64, rtol=1e-5, atol=1e-5, what="log_probs")
    assert_close(loss, ref, rtol=1e-5, atol=1e-5, what="loss")
    dloss = randn(rng, n)
    d = K.cross_entropy_backward(dloss, lp, t, label_smoothing=ls, backend=cpu_backend)
    target = np.full((n, c), ls / c)
    target[np.arange(n), t] += 1 - ls
    assert_close(d, dloss.astype(np.float64)[:, None] * (np.exp(lp64) - target), rtol=1e-5, atol=1e-6,
                 what="dlogits")


def test_bad_inputs():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        K.softmax_forward(x.astype(np.float16))
    with pytest.raises(ValueError, match="axis"):
        K.softmax_forward(x, 2)
    with pytest.raises(ValueError, match="same shape"):
        K.softmax_backward(x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="empty"):
        K.softmax_forward(np.ones((2, 0), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.log_softmax_forward(np.ones((4, 3), np.float32).T)
    with pytest.raises(ValueError, match="outside"):
        K.cross_entropy_forward(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="outside"):
        K.cross_entropy_forward(x, np.array([-1, 0]))
    with pytest.raises(TypeError, match="int64"):
        K.cross_entropy_forward(x, np.array([0, 1], np.int32))
    with pytest.raises(ValueError, match="expected \\(2,\\)"):
        K.cross_entropy_forward(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="label_smoothing"):
        K.cross_entropy_forward(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="dimensions"):
        K.cross_entropy_forward(np.ones(3, np.float32), np.array([0]))
    with pytest.raises(ValueError, match="unknown backend"):
        K.softmax_forward(x, backend="tpu")
    assert K.softmax_forward(np.ones((0, 3), np.float32)).shape == (0, 3)
