"""Max and average pooling against float64 NumPy references on every CPU path."""
import numpy as np
import pytest

import dlcore
from dlcore.kernels import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from opcheck import ODD_SIZES, assert_close, randn
from optable import avg_pool_backward_ref, avg_pool_ref, max_pool_backward_ref, max_pool_ref, pool_geometry

# (kernel, stride, padding) as (h, w) pairs: strides 1, 2 (shuffle loads) and
# 3 (gather), asymmetric windows, padding up to half the kernel.
CONFIGS = [((3, 3), (2, 2), (1, 1)), ((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)),
           ((3, 3), (3, 3), (0, 0)), ((2, 3), (1, 2), (1, 1)), ((5, 4), (2, 3), (2, 2))]


# ----------------------------------------------------------------- helpers (references: optable.py)

def valid(shape, k, s, p, ceil_mode):
    oh, ow = pool_geometry(shape, k, s, p, ceil_mode)
    return oh > 0 and ow > 0


# ----------------------------------------------------------------- forward

@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_max_forward_every_width(cpu_backend, rng, k, s, p, ceil_mode):
    for w in ODD_SIZES:
        shape = (2, 3, 6, w)
        if not valid(shape, k, s, p, ceil_mode):
            continue
        x = randn(rng, *shape)
        y, idx = max_pool2d_forward(x, k, s, p, ceil_mode=ceil_mode, backend=cpu_backend)
        y_ref, idx_ref = max_pool_ref(x, k, s, p, ceil_mode)
        assert y.dtype == np.float32 and idx.dtype == np.int32
        assert_close(y, y_ref, rtol=0, atol=0, what=f"max y W={w}")
        np.testing.assert_array_equal(idx, idx_ref, err_msg=f"max indices W={w}")


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_avg_forward_every_width(cpu_backend, rng, k, s, p, ceil_mode, count_include_pad):
    for w in ODD_SIZES:
        shape = (2, 3, 7, w)
        if not valid(shape, k, s, p, ceil_mode):
            continue
        x = randn(rng, *shape)
        y = avg_pool2d_forward(x, k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                               backend=cpu_backend)
        assert_close(y, avg_pool_ref(x, k, s, p, ceil_mode, count_include_pad), rtol=1e-5, atol=1e-6,
                     what=f"avg W={w}")


@pytest.mark.parametrize("h", [1, 2, 3, 8, 9, 17])
def test_forward_every_height(cpu_backend, rng, h):
    for k, s, p in CONFIGS:
        for ceil_mode in (False, True):
            shape = (1, 2, h, 19)
            if not valid(shape, k, s, p, ceil_mode):
                continue
            x = randn(rng, *shape)
            y, idx = max_pool2d_forward(x, k, s, p, ceil_mode=ceil_mode, backend=cpu_backend)
            y_ref, idx_ref = max_pool_ref(x, k, s, p, ceil_mode)
            assert_close(y, y_ref, rtol=0, atol=0)
            np.testing.assert_array_equal(idx, idx_ref)
            ya = avg_pool2d_forward(x, k, s, p, ceil_mode=ceil_mode, backend=cpu_backend)
            assert_close(ya, avg_pool_ref(x, k, s, p, ceil_mode, True), rtol=1e-5, atol=1e-6)


# Network layers from bench/shapes_pool.csv at minibatch 1 and 4 channels.
NETWORK = [("alexnet:max_pool1", 55, 3, 2, 0), ("alexnet:max_pool5", 13, 3, 2, 0),
           ("resnet_50:max_pool1", 112, 3, 2, 1), ("resnet_50:ave_pool5", 7, 7, 1, 0),
           ("vgg_16:pool3", 56, 2, 2, 0), ("lenet_caffe:pool2", 8, 2, 2, 0)]


@pytest.mark.parametrize("name,size,k,s,p", NETWORK)
def test_network_shapes_forward_backward(cpu_backend, rng, name, size, k, s, p):
    shape = (1, 4, size, size)
    x = randn(rng, *shape)
    y, idx = max_pool2d_forward(x, k, s, p, backend=cpu_backend)
    y_ref, idx_ref = max_pool_ref(x, (k, k), (s, s), (p, p), False)
    assert_close(y, y_ref, rtol=0, atol=0, what=name)
    np.testing.assert_array_equal(idx, idx_ref)
    dy = randn(rng, *y.shape)
    assert_close(max_pool2d_backward(dy, idx, shape, backend=cpu_backend), max_pool_backward_ref(dy, idx, shape),
                 rtol=1e-6, atol=1e-6, what=name)
    ya = avg_pool2d_forward(x, k, s, p, backend=cpu_backend)
    assert_close(ya, avg_pool_ref(x, (k, k), (s, s), (p, p), False, True), rtol=1e-5, atol=1e-6, what=name)
    dxa = avg_pool2d_backward(dy, shape, k, s, p, backend=cpu_backend)
    assert_close(dxa, avg_pool_backward_ref(dy, shape, (k, k), (s, s), (p, p), False, True), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- backward

@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_max_backward(cpu_backend, rng, k, s, p, ceil_mode):
    for w in ODD_SIZES:
        shape = (2, 2, 5, w)
        if not valid(shape, k, s, p, ceil_mode):
            continue
        x = randn(rng, *shape)
        y, idx = max_pool2d_forward(x, k, s, p, ceil_mode=ceil_mode, backend=cpu_backend)
        dy = randn(rng, *y.shape)
        dx = max_pool2d_backward(dy, idx, shape, backend=cpu_backend)
        assert_close(dx, max_pool_backward_ref(dy, idx, shape), rtol=1e-6, atol=1e-6, what=f"W={w}")


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("k,s,p", CONFIGS)
def test_avg_backward(cpu_backend, rng, k, s, p, ceil_mode, count_include_pad):
    for w in ODD_SIZES:
        shape = (2, 2, 6, w)
        if not valid(shape, k, s, p, ceil_mode):
            continue
        oh, ow = pool_geometry(shape, k, s, p, ceil_mode)
        dy = randn(rng, 2, 2, oh, ow)
        dx = avg_pool2d_backward(dy, shape, k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                 backend=cpu_backend)
        ref = avg_pool_backward_ref(dy, shape, k, s, p, ceil_mode, count_include_pad)
        assert_close(dx, ref, rtol=1e-5, atol=1e-6, what=f"W={w}")


def test_avg_backward_is_the_adjoint_of_forward(cpu_backend, rng):
    # <avg(x), dy> == <x, avg_backward(dy)> for any x, dy.
    shape = (2, 3, 11, 13)
    for k, s, p in CONFIGS:
        x = randn(rng, *shape)
        y = avg_pool2d_forward(x, k, s, p, ceil_mode=True, count_include_pad=False, backend=cpu_backend)
        dy = randn(rng, *y.shape)
        dx = avg_pool2d_backward(dy, shape, k, s, p, ceil_mode=True, count_include_pad=False, backend=cpu_backend)
        lhs = np.sum(y.astype(np.float64) * dy)
        rhs = np.sum(x.astype(np.float64) * dx)
        assert abs(lhs - rhs) <= 1e-4 * (1 + abs(lhs))


# ----------------------------------------------------------------- ties, NaN, threads

def test_max_ties_first_index_wins(cpu_backend, rng):
    for w in (8, 9, 17, 33):
        x = rng.integers(0, 3, size=(2, 3, 9, w)).astype(np.float32)  # many ties
        for k, s, p in CONFIGS:
            y, idx = max_pool2d_forward(x, k, s, p, backend=cpu_backend)
            _, idx_ref = max_pool_ref(x, k, s, p, False)
            np.testing.assert_array_equal(idx, idx_ref)
    x = np.full((1, 1, 4, 20), 2.5, np.float32)  # all equal: the window's first element
    y, idx = max_pool2d_forward(x, 3, 2, 1, backend=cpu_backend)
    np.testing.assert_array_equal(idx[0, 0, 0, :3], [0, 1, 3])


def test_max_propagates_nan_with_first_nan_index(cpu_backend, rng):
    x = randn(rng, 1, 2, 9, 40)
    x[0, 0, 3, 5] = np.nan
    x[0, 1, 4, 17:19] = np.nan
    x[0, 1, 0, 0] = np.inf
    for k, s, p in CONFIGS:
        y, idx = max_pool2d_forward(x, k, s, p, backend=cpu_backend)
        y_ref, idx_ref = max_pool_ref(x, k, s, p, False)
        np.testing.assert_array_equal(y, y_ref.astype(np.float32))  # NaN, inf and values exactly
        np.testing.assert_array_equal(idx, idx_ref)
        assert np.isnan(y).any()


def test_results_do_not_depend_on_threads(cpu_backend, rng):
    x = randn(rng, 4, 16, 33, 65)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            y, idx = max_pool2d_forward(x, 3, 2, 1, backend=cpu_backend)
            ya = avg_pool2d_forward(x, 3, 2, 1, backend=cpu_backend)
            dxa = avg_pool2d_backward(ya, x.shape, 3, 2, 1, backend=cpu_backend)
            dxm = max_pool2d_backward(y, idx, x.shape, backend=cpu_backend)
            outs.append((y, idx, ya, dxa, dxm))
    finally:
        dlcore.set_num_threads(before)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_dispatch_names_the_backend(cpu_backend):
    x = np.ones((1, 1, 4, 4), np.float32)
    max_pool2d_forward(x, 2, backend=cpu_backend)
    # per ISA: the shuffle-load entry (strides 1 and 2), else gathered loads (tests/test_registry.py)
    algo = "" if cpu_backend == "ref" else "_shuffle"
    assert dlcore.kernels.last_dispatch() == f"max_pool2d_forward:max_pool2d_forward_{cpu_backend}{algo}"


# ----------------------------------------------------------------- bad input

def test_empty_batch():
    y, idx = max_pool2d_forward(np.ones((0, 3, 8, 8), np.float32), 2)
    assert y.shape == (0, 3, 4, 4) and idx.shape == (0, 3, 4, 4)
    assert avg_pool2d_backward(np.ones((0, 3, 4, 4), np.float32), (0, 3, 8, 8), 2).shape == (0, 3, 8, 8)


def test_bad_inputs():
    x = np.ones((1, 2, 8, 8), np.float32)
    with pytest.raises(TypeError, match="float32"):
        max_pool2d_forward(x.astype(np.float64), 2)
    with pytest.raises(ValueError, match="4 dimensions"):
        avg_pool2d_forward(x[0], 2)
    with pytest.raises(ValueError, match="C-contiguous"):
        max_pool2d_forward(np.ones((1, 2, 8, 16), np.float32)[..., ::2], 2)
    with pytest.raises(ValueError, match="at most half"):
        max_pool2d_forward(x, 2, 1, 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        avg_pool2d_forward(x, 9)
    with pytest.raises(ValueError, match="positive"):
        max_pool2d_forward(x, 2, 0)
    with pytest.raises(ValueError, match="positive"):
        max_pool2d_forward(x, (0, 2))
    with pytest.raises(ValueError, match="tuple of 2"):
        max_pool2d_forward(x, (2, 2, 2))
    with pytest.raises(TypeError, match="int"):
        max_pool2d_forward(x, 2.0)
    with pytest.raises(ValueError, match="non-empty"):
        max_pool2d_forward(np.ones((1, 0, 8, 8), np.float32), 2)
    with pytest.raises(ValueError, match="unknown backend"):
        max_pool2d_forward(x, 2, backend="gpu")


def test_bad_backward_inputs():
    x = np.ones((1, 2, 8, 8), np.float32)
    y, idx = max_pool2d_forward(x, 2)
    with pytest.raises(TypeError, match="int32"):
        max_pool2d_backward(y, idx.astype(np.int64), x.shape)
    with pytest.raises(ValueError, match="must match"):
        max_pool2d_backward(y, np.ascontiguousarray(idx[:, :, :2]), x.shape)
    with pytest.raises(ValueError, match="does not fit"):
        max_pool2d_backward(y, idx, (1, 3, 8, 8))
    bad = idx.copy()
    bad[0, 1, 2, 3] = 64
    with pytest.raises(ValueError, match="outside"):
        max_pool2d_backward(y, bad, x.shape)
    bad[0, 1, 2, 3] = -1
    with pytest.raises(ValueError, match="outside"):
        max_pool2d_backward(y, bad, x.shape)
    with pytest.raises(ValueError, match="dy has shape"):
        avg_pool2d_backward(y, x.shape, 3)


def test_ceil_mode_window_larger_than_the_input(cpu_backend):
    """torch's rule: with ceil_mode a kernel larger than the input still gives one clipped window
    (SqueezeNet's last pools on small images); without it, the error stays."""
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2) - 3
    y, idx = max_pool2d_forward(x, 3, 2, 0, ceil_mode=True, backend=cpu_backend)
    np.testing.assert_array_equal(y.reshape(-1), x.reshape(2, -1).max(axis=1))
    avg = avg_pool2d_forward(x, 3, 2, 0, ceil_mode=True, backend=cpu_backend)
    np.testing.assert_allclose(avg.reshape(-1), x.reshape(2, -1).mean(axis=1), rtol=1e-6)
    padded = avg_pool2d_forward(x, 3, 2, 1, ceil_mode=True, count_include_pad=True, backend=cpu_backend)
    assert padded.shape == (1, 2, 2, 2)
    np.testing.assert_allclose(padded[0, 0, 0, 0], x[0, 0].sum() / 9, rtol=1e-6)  # the padding counts, the overhang not
    with pytest.raises(ValueError, match="larger than the padded input"):
        max_pool2d_forward(x, 3, 2, 0, ceil_mode=False, backend=cpu_backend)
