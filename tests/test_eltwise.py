"""Activations (ReLU/leaky, PReLU, sigmoid, tanh, ELU, abs, maxout) against float64 NumPy."""
import numpy as np
import pytest

import dlcore
from dlcore import kernels as K
from opcheck import ODD_SIZES, assert_close, randn
from optable import ELTWISE, sigmoid_ref


def _case(name, kw, saved):
    fwd, bwd = ELTWISE[name]
    extra = tuple(kw.values())
    backward = (lambda dy, x, y: bwd(dy, x, *extra)) if saved == "x" else (lambda dy, x, y: bwd(dy, y))
    return kw, (lambda x: fwd(x, *extra)), backward, saved


# name -> (forward kernel kwargs, float64 forward, float64 backward given (dy, x, y)); formulas: optable.ELTWISE
CASES = {
    "relu": _case("relu", {}, "x"),
    "leaky": _case("relu", {"negative_slope": 0.1}, "x"),
    "sigmoid": _case("sigmoid", {}, "y"),
    "tanh": _case("tanh", {}, "y"),
    "elu": _case("elu", {"alpha": 0.7}, "x"),
    "abs": _case("abs", {}, "x"),
}


def kernels_for(name):
    base = {"leaky": "relu"}.get(name, name)
    return getattr(K, f"{base}_forward"), getattr(K, f"{base}_backward")


@pytest.mark.parametrize("name", list(CASES))
def test_forward_backward_every_remainder(cpu_backend, rng, name):
    kwargs, f64, df64, saved = CASES[name]
    fwd, bwd = kernels_for(name)
    for n in ODD_SIZES + (1000, 4099):
        x = randn(rng, n, scale=3.0)
        dy = randn(rng, n)
        y = fwd(x, **kwargs, backend=cpu_backend)
        y64 = f64(x.astype(np.float64))
        assert_close(y, y64, rtol=2e-6, atol=1e-6, what=f"{name} forward n={n}")
        arg = x if saved == "x" else y
        dx = bwd(dy, arg, **kwargs, backend=cpu_backend)
        ref = df64(dy.astype(np.float64), x.astype(np.float64), y.astype(np.float64))
        assert_close(dx, ref, rtol=1e-5, atol=1e-6, what=f"{name} backward n={n}")


def test_large_array_takes_threaded_streaming_path(cpu_backend, rng):
    x = randn(rng, 3 * 1024 * 1024 + 5)  # 12 MiB: above the streaming-store threshold
    y = K.relu_forward(x, 0.01, backend=cpu_backend)
    np.testing.assert_array_equal(y, np.where(x > 0, x, np.float32(0.01) * x))
    y = K.tanh_forward(x[1:], backend=cpu_backend)  # misaligned output start
    assert_close(y, np.tanh(x[1:].astype(np.float64)), rtol=2e-6, atol=1e-7)


def test_shapes_are_kept_and_gradients_at_zero(cpu_backend):
    x = np.array([[0.0, -0.0, 1.0], [-1.0, 2.0, -3.0]], np.float32)
    assert K.relu_forward(x, backend=cpu_backend).shape == (2, 3)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(K.relu_backward(dy, x, backend=cpu_backend), (x > 0).astype(np.float32))
    np.testing.assert_array_equal(K.abs_backward(dy, x, backend=cpu_backend), np.sign(x))
    nan = np.array([np.nan], np.float32)
    for fwd in (K.relu_forward, K.sigmoid_forward, K.tanh_forward, K.elu_forward, K.abs_forward):
        assert np.isnan(fwd(nan, backend=cpu_backend)[0]), fwd.__name__


def test_elu_and_sigmoid_extremes(cpu_backend):
    x = np.array([-200.0, -90.0, 90.0, 200.0], np.float32)
    np.testing.assert_array_equal(K.sigmoid_forward(x, backend=cpu_backend), sigmoid_ref(x).astype(np.float32))
    np.testing.assert_array_equal(K.elu_forward(x, 2.0, backend=cpu_backend), np.array([-2, -2, 90, 200], np.float32))


@pytest.mark.parametrize("shape,wshape", [((4, 7, 5, 3), (7,)), ((9, 17), (17,)), ((3, 5, 33), (1,)),
                                          ((2, 3, 40, 300), (3,)), ((65,), (1,))])
def test_prelu(cpu_backend, rng, shape, wshape):
    x = randn(rng, *shape)
    w = randn(rng, *wshape, scale=0.5)
    dy = randn(rng, *shape)
    wb = w.reshape((1, -1) + (1,) * (len(shape) - 2)) if wshape[0] > 1 else w[0]
    x64, dy64, wb64 = x.astype(np.float64), dy.astype(np.float64), np.asarray(wb, np.float64)
    y = K.prelu_forward(x, w, backend=cpu_backend)
    assert_close(y, np.where(x64 > 0, x64, wb64 * x64), what="prelu forward")
    dx, dw = K.prelu_backward(dy, x, w, backend=cpu_backend)
    assert_close(dx, np.where(x64 > 0, dy64, wb64 * dy64), what="prelu dx")
    contrib = np.where(x64 > 0, 0.0, dy64 * x64)
    ref_dw = contrib.sum() if wshape[0] == 1 else contrib.sum(axis=tuple(i for i in range(len(shape)) if i != 1))
    assert dw.shape == w.shape
    assert_close(dw, np.reshape(ref_dw, w.shape), rtol=1e-4, atol=1e-4, what="prelu dweight")


def test_prelu_weight_gradient_independent_of_threads(rng):
    x = randn(rng, 2, 3, 100, 200)
    w = randn(rng, 3)
    dy = randn(rng, 2, 3, 100, 200)
    before = dlcore.get_num_threads()
    try:
        dlcore.set_num_threads(1)
        dw1 = K.prelu_backward(dy, x, w)[1]
        dlcore.set_num_threads(2)
        dw2 = K.prelu_backward(dy, x, w)[1]
    finally:
        dlcore.set_num_threads(before)
    np.testing.assert_array_equal(dw1, dw2)


@pytest.mark.parametrize("shape,pool", [((2, 6, 5, 7), 3), ((3, 8), 2), ((1, 4, 17), 4), ((2, 9, 33), 1),
                                        ((2, 4, 129), 2)])
def test_maxout(cpu_backend, rng, shape, pool):
    x = randn(rng, *shape)
    n, c = shape[:2]
    grouped = x.astype(np.float64).reshape((n, c // pool, pool) + shape[2:])
    y, idx = K.maxout_forward(x, pool, backend=cpu_backend)
    assert idx.dtype == np.int32
    assert_close(y, grouped.max(axis=2), what="maxout y")
    np.testing.assert_array_equal(idx, grouped.argmax(axis=2))
    dy = randn(rng, *y.shape)
    dx = K.maxout_backward(dy, idx, pool, backend=cpu_backend)
    ref = np.zeros_like(grouped)
    np.put_along_axis(ref, np.expand_dims(idx, 2).astype(np.int64), np.expand_dims(dy, 2).astype(np.float64), 2)
    assert_close(dx, ref.reshape(shape), what="maxout dx")


def test_maxout_ties_pick_the_first(cpu_backend):
    x = np.ones((1, 4, 9), np.float32)
    y, idx = K.maxout_forward(x, 2, backend=cpu_backend)
    assert np.all(idx == 0)


def test_bad_inputs():
    x = np.ones((2, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        K.relu_forward(np.ones(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.sigmoid_forward(np.ones((3, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="same shape"):
        K.tanh_backward(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="finite"):
        K.relu_forward(x, float("nan"))
    with pytest.raises(ValueError, match="channels"):
        K.prelu_forward(x, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="empty"):
        K.prelu_forward(x, np.ones(0, np.float32))
    with pytest.raises(ValueError, match="divisible"):
        K.maxout_forward(x, 3)
    with pytest.raises(ValueError, match="pool_size"):
        K.maxout_forward(x, 0)
    with pytest.raises(TypeError, match="int32"):
        K.maxout_backward(np.ones((2, 2), np.float32), np.zeros((2, 2), np.int64), 2)
    with pytest.raises(ValueError, match="outside"):
        K.maxout_backward(np.ones((2, 2), np.float32), np.full((2, 2), 2, np.int32), 2)
    with pytest.raises(ValueError, match="unknown backend"):
        K.relu_forward(x, backend="gpu9")
    assert K.relu_forward(np.ones((0, 3), np.float32)).shape == (0, 3)  # empty is a valid, empty result


def test_dispatch_names_the_op(cpu_backend):
    K.elu_forward(np.ones(4, np.float32), backend=cpu_backend)
    assert K.last_dispatch() == f"elu_forward:eltwise_{cpu_backend}"
