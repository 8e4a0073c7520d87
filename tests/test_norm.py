"""Batch normalization against a float64 NumPy reference."""
import numpy as np
import pytest

import dlcore
from dlcore.kernels import batch_norm_backward, batch_norm_forward_inference, batch_norm_forward_training
from opcheck import ODD_SIZES, assert_close, randn
from optable import BN_EPS as EPS
from optable import batch_norm_ref

# >= 4 MiB, so the affine passes stream their output, with plane sizes (odd,
# shorter than a vector) that put plane boundaries inside vectors.
STREAMED_ODD_PLANES = [(160, 9, 27, 29), (2, 61000, 3, 3), (1300, 7, 173, 1)]


def shapes():
    # 1-D (N, C) and 2-D (N, C, H, W); H*W and C hit every vector remainder.
    out = [(s, 3) for s in ODD_SIZES[1:]] + [(4, c) for c in ODD_SIZES]
    out += [(2, 3, h, w) for h, w in [(1, 1), (1, 3), (3, 3), (2, 4), (3, 5), (4, 4), (1, 17), (5, 13), (9, 15)]]
    out += [(1, 2, 1, 2)]
    # resnet_50:bn2a_branch2a (64 ch, 56x56) scaled down to minibatch 2 and 16 channels.
    out += [(2, 16, 56, 56)]
    return out + STREAMED_ODD_PLANES


@pytest.mark.parametrize("shape", shapes(), ids=str)
def test_training_forward_and_backward(cpu_backend, rng, shape):
    x = randn(rng, *shape, scale=2.0) + 3.0
    c = shape[1]
    w, b, dy = randn(rng, c), randn(rng, c), randn(rng, *shape)
    ref = batch_norm_ref(x, w, b, dy)
    y, mean, invstd = batch_norm_forward_training(x, w, b, backend=cpu_backend)
    assert_close(mean, ref["mean"], rtol=1e-6, atol=1e-6, what="mean")
    assert_close(invstd, ref["invstd"], rtol=1e-5, atol=1e-6, what="invstd")
    assert_close(y, ref["y"], rtol=1e-5, atol=2e-5, what="y")
    dx, dw, db = batch_norm_backward(dy, x, w, mean, invstd, backend=cpu_backend)
    # Sums of thousands of signed terms: bound the error by the sum of |terms| (float accumulation).
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    mag = np.abs(dy.astype(np.float64)).sum(axis=axes) * 4 + 1.0
    assert np.all(np.abs(db - ref["db"]) <= 1e-6 * mag), "dbias"
    # xhat = (x - mean) * invstd with mean rounded to float32: when a channel's
    # spread is tiny next to its mean, that rounding (half an ulp of |mean|,
    # amplified by invstd) dominates, whatever the kernel does.
    mean_rounding = 2.0 ** -24 * np.abs(ref["mean"]) * ref["invstd"] * 4
    assert np.all(np.abs(dw - ref["dw"]) <= (1e-6 + mean_rounding) * mag), "dweight"
    shape_c = [1, c] + [1] * (x.ndim - 2)
    m = x.size / c
    # The same rounding enters dx through xhat * dweight / m, scaled by weight * invstd.
    cond = (np.abs(w.astype(np.float64)) * ref["invstd"] * mean_rounding).reshape(shape_c) * (
        np.abs(dy.astype(np.float64)) + (mag / m).reshape(shape_c))
    err = np.abs(dx.astype(np.float64) - ref["dx"])
    assert np.all(err <= 1e-4 + 1e-4 * np.abs(ref["dx"]) + cond), f"dx: max err {err.max():.3g}"


def test_no_affine_gives_no_parameter_gradients(cpu_backend, rng):
    x, dy = randn(rng, 3, 5, 4, 4), randn(rng, 3, 5, 4, 4)
    ref = batch_norm_ref(x, None, None, dy)
    y, mean, invstd = batch_norm_forward_training(x, None, None, backend=cpu_backend)
    assert_close(y, ref["y"], rtol=1e-5, atol=1e-5)
    dx, dw, db = batch_norm_backward(dy, x, None, mean, invstd, backend=cpu_backend)
    assert dw is None and db is None
    assert_close(dx, ref["dx"], rtol=1e-4, atol=1e-4)


def test_running_stats_update_and_inference(cpu_backend, rng):
    x = randn(rng, 4, 6, 5, 3) * 2 + 1
    w, b = randn(rng, 6), randn(rng, 6)
    rm, rv = randn(rng, 6), np.abs(randn(rng, 6)) + 0.5
    rm0, rv0 = rm.copy().astype(np.float64), rv.copy().astype(np.float64)
    ref = batch_norm_ref(x, w, b, x)
    batch_norm_forward_training(x, w, b, rm, rv, momentum=0.25, backend=cpu_backend)
    m = 4 * 5 * 3
    assert_close(rm, 0.75 * rm0 + 0.25 * ref["mean"], rtol=1e-5, atol=1e-6, what="running_mean")
    assert_close(rv, 0.75 * rv0 + 0.25 * ref["var"] * m / (m - 1), rtol=1e-5, atol=1e-6, what="running_var")
    y = batch_norm_forward_inference(x, w, b, rm, rv, eps=1e-3, backend=cpu_backend)
    shape = (1, -1, 1, 1)
    expected = ((x.astype(np.float64) - rm.reshape(shape)) / np.sqrt(rv.astype(np.float64).reshape(shape) + 1e-3)
                * w.reshape(shape) + b.reshape(shape))
    assert_close(y, expected, rtol=1e-5, atol=1e-5, what="inference")
    y1 = batch_norm_forward_inference(x[:, :, 0, 0].copy(), w, b, rm, rv, backend=cpu_backend)
    assert_close(y1, ((x[:, :, 0, 0] - rm) / np.sqrt(rv.astype(np.float64) + EPS) * w + b), rtol=1e-5, atol=1e-5)


def test_large_inference_streams(cpu_backend, rng):
    x = randn(rng, 2, 8, 380, 380)  # 9 MiB: streaming-store path
    rm, rv, w, b = randn(rng, 8), np.abs(randn(rng, 8)) + 0.1, randn(rng, 8), randn(rng, 8)
    y = batch_norm_forward_inference(x, w, b, rm, rv, backend=cpu_backend)
    s = (1, -1, 1, 1)
    assert_close(y, (x - rm.reshape(s)) / np.sqrt(rv.reshape(s).astype(np.float64) + EPS) * w.reshape(s) + b.reshape(s),
                 rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", STREAMED_ODD_PLANES, ids=str)
def test_large_odd_planes_inference(cpu_backend, rng, shape):
    x = randn(rng, *shape)
    c = x.shape[1]
    rm, rv, w, b = randn(rng, c), np.abs(randn(rng, c)) + 0.1, randn(rng, c), randn(rng, c)
    y = batch_norm_forward_inference(x, w, b, rm, rv, backend=cpu_backend)
    s = (1, -1, 1, 1)
    assert_close(y, (x - rm.reshape(s)) / np.sqrt(rv.reshape(s).astype(np.float64) + EPS) * w.reshape(s) + b.reshape(s),
                 rtol=1e-5, atol=1e-5)


def test_constant_channel_and_large_offset_are_stable(cpu_backend, rng):
    x = randn(rng, 3, 4, 7, 9) * 1e-3 + 1000.0  # E[x^2] - E[x]^2 would cancel to noise here
    x[:, 2] = 7.25  # a constant channel: var 0 -> y = bias, no NaN
    w, b = randn(rng, 4), randn(rng, 4)
    ref = batch_norm_ref(x, w, b, x)
    y, mean, invstd = batch_norm_forward_training(x, w, b, backend=cpu_backend)
    assert np.all(np.isfinite(y))
    assert_close(invstd, ref["invstd"], rtol=1e-3, what="invstd near-constant")
    assert_close(y[:, 2], np.full((3, 7, 9), b[2]), atol=1e-5, rtol=0, what="constant channel")


def test_single_value_per_channel_is_a_clear_error(cpu_backend):
    with pytest.raises(ValueError, match="one value per channel"):
        batch_norm_forward_training(np.ones((1, 3), np.float32), None, None, backend=cpu_backend)
    with pytest.raises(ValueError, match="one value per channel"):
        batch_norm_forward_training(np.ones((1, 3, 1, 1), np.float32), None, None, backend=cpu_backend)
    # Inference with a single value is well defined.
    y = batch_norm_forward_inference(np.ones((1, 3), np.float32), None, None, np.zeros(3, np.float32),
                                     np.ones(3, np.float32), backend=cpu_backend)
    assert np.all(np.isfinite(y))


def test_result_independent_of_threads(rng):
    x, dy = randn(rng, 2, 4, 64, 64), randn(rng, 2, 4, 64, 64)
    w, b = randn(rng, 4), randn(rng, 4)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            dlcore.set_num_threads(t)
            y, m, s = batch_norm_forward_training(x, w, b)
            outs.append((y, m, s) + batch_norm_backward(dy, x, w, m, s))
    finally:
        dlcore.set_num_threads(before)
    for a, b_ in zip(*outs):
        np.testing.assert_array_equal(a, b_)


def test_bad_inputs():
    x = np.ones((2, 3, 4, 4), np.float32)
    c3 = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="float32"):
        batch_norm_forward_training(x.astype(np.float64), None, None)
    with pytest.raises(ValueError, match="dimensions|\\(N, C\\)"):
        batch_norm_forward_training(np.ones((2, 3, 4), np.float32), None, None)
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        batch_norm_forward_training(x, np.ones(4, np.float32), None)
    with pytest.raises(ValueError, match="eps"):
        batch_norm_forward_training(x, None, None, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        batch_norm_forward_training(x, None, None, c3.copy(), c3.copy(), momentum=2.0)
    with pytest.raises(ValueError, match="both"):
        batch_norm_forward_training(x, None, None, c3.copy(), None)
    with pytest.raises(ValueError, match="empty"):
        batch_norm_forward_training(np.ones((0, 3), np.float32), None, None)
    with pytest.raises(ValueError, match="negative"):
        batch_norm_forward_inference(x, None, None, c3, -c3)
    with pytest.raises(ValueError, match="C-contiguous"):
        batch_norm_forward_inference(np.ones((3, 4), np.float32).T, None, None, c3, c3)
    with pytest.raises(ValueError, match="same shape"):
        batch_norm_backward(np.ones((2, 3, 4, 5), np.float32), x, None, c3, c3)
    with pytest.raises(ValueError, match="unknown backend"):
        batch_norm_forward_inference(x, None, None, c3, c3, backend="xpu")
