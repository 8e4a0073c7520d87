"""LRN forward and exact backward against float64 NumPy references on every CPU path."""
import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore.kernels import lrn_backward, lrn_forward
from opcheck import ODD_SIZES, assert_close, numerical_grad, randn
from optable import lrn_backward_ref, lrn_ref

# ----------------------------------------------------------------- helpers (references: optable.py)

def check_backward(dx, ref, scale, what=""):
    err = np.abs(dx.astype(np.float64) - ref)
    assert np.all(np.isfinite(dx)), f"{what}: non-finite gradient"
    bad = err > 1e-6 + 2e-5 * scale
    assert not bad.any(), f"{what}: {bad.sum()} elements off, worst err {err.max():.3g}"


# ----------------------------------------------------------------- the reference itself

@pytest.mark.parametrize("region", ["across", "within"])
@pytest.mark.parametrize("size", [3, 4])
def test_reference_gradient_matches_finite_differences(rng, region, size):
    # The exact-gradient formula the kernels implement, checked in float64.
    x = rng.standard_normal((1, 5, 4, 3))
    dy = rng.standard_normal(x.shape)
    args = (size, 0.7, 0.6, 1.3, region, False)
    num = numerical_grad(lambda: np.sum(lrn_ref(x, *args) * dy), x)
    ana, _ = lrn_backward_ref(dy, x, *args)
    np.testing.assert_allclose(ana, num, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- forward

@pytest.mark.parametrize("beta", [0.75, 0.5, 1.3])
@pytest.mark.parametrize("size", [1, 3, 4, 5])
def test_across_forward_every_remainder(cpu_backend, rng, size, beta):
    for i, w in enumerate(ODD_SIZES):
        c = ODD_SIZES[(i * 5 + 3) % len(ODD_SIZES)] % 40 + 1
        x = randn(rng, 2, c, 2, w)
        for alpha_over_size in (True, False):
            y = lrn_forward(x, size, 0.3, beta, 1.5, alpha_over_size=alpha_over_size, backend=cpu_backend)
            assert_close(y, lrn_ref(x, size, 0.3, beta, 1.5, "across", alpha_over_size), rtol=3e-6, atol=1e-7,
                         what=f"C={c} W={w}")


@pytest.mark.parametrize("beta", [0.75, 1.3])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_within_forward_every_remainder(cpu_backend, rng, size, beta):
    for w in ODD_SIZES:
        x = randn(rng, 1, 3, 7, w)
        y = lrn_forward(x, size, 0.3, beta, 1.5, region="within", backend=cpu_backend)
        assert_close(y, lrn_ref(x, size, 0.3, beta, 1.5, "within"), rtol=3e-6, atol=1e-7, what=f"W={w}")


# Layers from bench/shapes_lrn.csv at minibatch 1 (spatial scaled down where marked).
NETWORK = [("alexnet:norm1", 96, 55, 5, 1.220703125e-4, 1.0), ("alexnet:norm2", 256, 27, 5, 1.220703125e-4, 1.0),
           ("fastrcnn:norm1 (28x28)", 96, 28, 5, 5e-4, 2.0), ("fastrcnn_zf:norm1 (28x28)", 96, 28, 3, 5e-5, 1.0)]


@pytest.mark.parametrize("name,c,hw,size,alpha,k", NETWORK)
def test_network_shapes(cpu_backend, rng, name, c, hw, size, alpha, k):
    x = randn(rng, 1, c, hw, hw, scale=10.0)
    y = lrn_forward(x, size, alpha, 0.75, k, backend=cpu_backend)
    assert_close(y, lrn_ref(x, size, alpha, 0.75, k), rtol=3e-6, atol=1e-7, what=name)
    dy = randn(rng, *x.shape)
    dx = lrn_backward(dy, x, size, alpha, 0.75, k, backend=cpu_backend)
    check_backward(dx, *lrn_backward_ref(dy, x, size, alpha, 0.75, k), what=name)


@pytest.mark.parametrize("region", ["across", "within"])
def test_large_inputs(cpu_backend, rng, region):
    # |x| ~ 1e3: s ~ 1e6 * alpha; big values entering and leaving the window.
    x = randn(rng, 2, 17, 9, 33, scale=1e3)
    x[:, ::4] *= 1e-3
    for alpha in (1e-4, 1.0):
        y = lrn_forward(x, 5, alpha, 0.75, 1.0, region=region, backend=cpu_backend)
        assert_close(y, lrn_ref(x, 5, alpha, 0.75, 1.0, region), rtol=3e-6, atol=1e-7)
        dy = randn(rng, *x.shape)
        dx = lrn_backward(dy, x, 5, alpha, 0.75, 1.0, region=region, backend=cpu_backend)
        check_backward(dx, *lrn_backward_ref(dy, x, 5, alpha, 0.75, 1.0, region))


# ----------------------------------------------------------------- backward

@pytest.mark.parametrize("beta", [0.75, 0.6])
@pytest.mark.parametrize("size", [1, 3, 4, 5])
def test_across_backward_every_remainder(cpu_backend, rng, size, beta):
    for i, w in enumerate(ODD_SIZES):
        c = ODD_SIZES[(i * 3 + 1) % len(ODD_SIZES)] % 40 + 1
        x = randn(rng, 2, c, 3, w)
        dy = randn(rng, *x.shape)
        for alpha_over_size in (True, False):
            args = (size, 0.4, beta, 1.2, "across", alpha_over_size)
            dx = lrn_backward(dy, x, *args[:4], region="across", alpha_over_size=alpha_over_size,
                              backend=cpu_backend)
            check_backward(dx, *lrn_backward_ref(dy, x, *args), what=f"C={c} W={w}")


def test_across_backward_crosses_chunks(cpu_backend, rng):
    # C = 129 makes the backward chunk 112 positions; 9 x 31 = 279 positions
    # span three chunks, the last one partial. Forward chunks are <= 1024
    # positions: see test_across_forward_crosses_chunks.
    x = randn(rng, 2, 129, 9, 31)
    dy = randn(rng, *x.shape)
    y = lrn_forward(x, 5, 0.5, 0.75, 1.0, backend=cpu_backend)
    assert_close(y, lrn_ref(x, 5, 0.5, 0.75, 1.0), rtol=3e-6, atol=1e-7)
    dx = lrn_backward(dy, x, 5, 0.5, 0.75, 1.0, backend=cpu_backend)
    check_backward(dx, *lrn_backward_ref(dy, x, 5, 0.5, 0.75, 1.0))


@pytest.mark.parametrize("shape", [(1, 6, 33, 65), (3, 5, 27, 27), (11, 4, 27, 27)], ids=str)
def test_across_forward_crosses_chunks(cpu_backend, rng, shape):
    # 33 x 65 = 2145 positions: three forward chunks of 720, the last partial;
    # 27 x 27: one chunk per plane.
    x = randn(rng, *shape, scale=3.0)
    y = lrn_forward(x, 5, 0.5, 0.75, 1.0, backend=cpu_backend)
    assert_close(y, lrn_ref(x, 5, 0.5, 0.75, 1.0), rtol=3e-6, atol=1e-7)
    y = lrn_forward(x, 3, 0.5, 1.3, 1.0, backend=cpu_backend)
    assert_close(y, lrn_ref(x, 3, 0.5, 1.3, 1.0), rtol=3e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(11, 40, 27, 27), (3, 37, 9, 9), (1, 33, 5, 7)], ids=str)
def test_across_forward_channel_blocks(cpu_backend, rng, shape):
    # Units that would not split evenly over the threads are cut into channel
    # blocks (11 x 40: two blocks of 20 at 2 threads; 3 x 37: blocks of 19 and
    # 18; 1 x 33: blocks of 17 and 16 at 2 threads, 3 would go below 16).
    # Windows reach across the block edges; results match one thread bitwise.
    x = randn(rng, *shape, scale=3.0)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append([lrn_forward(x, 5, 0.5, 0.75, 1.0, backend=cpu_backend),
                         lrn_forward(x, 4, 0.5, 1.3, 1.0, backend=cpu_backend)])
    finally:
        dlcore.set_num_threads(before)
    assert_close(outs[0][0], lrn_ref(x, 5, 0.5, 0.75, 1.0), rtol=3e-6, atol=1e-7)
    assert_close(outs[0][1], lrn_ref(x, 4, 0.5, 1.3, 1.0), rtol=3e-6, atol=1e-7)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_within_backward_every_remainder(cpu_backend, rng, size):
    for w in ODD_SIZES:
        x = randn(rng, 2, 2, 6, w)
        dy = randn(rng, *x.shape)
        for beta in (0.75, 1.3):
            dx = lrn_backward(dy, x, size, 0.4, beta, 1.2, region="within", backend=cpu_backend)
            check_backward(dx, *lrn_backward_ref(dy, x, size, 0.4, beta, 1.2, "within"), what=f"W={w}")


def test_results_do_not_depend_on_threads(cpu_backend, rng):
    x = randn(rng, 3, 20, 17, 33)
    dy = randn(rng, *x.shape)
    before = dlcore.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            dlcore.set_num_threads(t)
            outs.append([lrn_forward(x, 5, backend=cpu_backend), lrn_backward(dy, x, 5, backend=cpu_backend),
                         lrn_forward(x, 3, region="within", backend=cpu_backend),
                         lrn_backward(dy, x, 3, region="within", backend=cpu_backend)])
    finally:
        dlcore.set_num_threads(before)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- the vector power

def power_inputs(rng):
    normal = np.exp(rng.uniform(np.log(1e-37), np.log(3e38), 20000))
    near_one = 1 + rng.uniform(-1e-3, 1e-3, 2000)
    octaves = 2.0 ** np.arange(-126, 128)
    subnormal = np.array([1e-45, 3e-42, 1e-40, 1.1e-38])
    return np.concatenate([normal, near_one, octaves, octaves * 1.41421356, subnormal]).astype(np.float32)


@pytest.mark.parametrize("beta", [0.75, 0.5, 1.0, 2.5, -0.3, 0.0, 7.1, 1e-3])
def test_power_is_within_a_few_ulp(cpu_backend, rng, beta):
    s = power_inputs(rng)
    got = _C._lrn_pow(s, beta, cpu_backend).astype(np.float64)
    # The kernels take beta as float32; compare with that beta exactly.
    with np.errstate(over="ignore"):  # far outside float32 on purpose
        ref = s.astype(np.float64) ** -float(np.float32(beta))
    in_range = (ref > 1.2e-38) & (ref < 3.4e38)  # results that are normal float32 numbers
    ulp = np.spacing(ref[in_range].astype(np.float32)).astype(np.float64)
    err_ulp = np.abs(got[in_range] - ref[in_range]) / ulp
    # ~1.5 ulp for |beta| <= 1; the error of beta*log2(m) grows with |beta| (lrn_math.h).
    worst = s[in_range][np.argmax(err_ulp)]
    assert err_ulp.max() <= max(3.5, 1.5 * abs(beta)), f"max error {err_ulp.max():.2f} ulp at s={worst!r}"
    # Outside the float range the answer saturates to 0 or inf like pow().
    tiny, huge = ref <= 1e-46, ref >= 1e39
    assert np.all(got[tiny] == 0) and np.all(np.isinf(got[huge]))


def test_three_quarter_power_bound(cpu_backend):
    # beta = 0.75 takes its own form (rsqrt estimate, second-order correction,
    # one square root; lrn_math.h derives <= 4.25 * 2^-24 relative). size 1 and
    # alpha 0 make s = k exactly, so y = x * k^-0.75 with x = 1 shows the power.
    ks = np.concatenate([np.geomspace(1e-30, 1e30, 601), [1.03284514, 2.44625545, 2.63474059, 1.0, 4.0]])
    x = np.ones((1, 1, 1, 17), np.float32)
    worst = 0.0
    for k in ks.astype(np.float32):
        y = lrn_forward(x, 1, 0.0, 0.75, float(k), backend=cpu_backend)
        ref = float(k) ** -0.75
        worst = max(worst, np.max(np.abs(y.astype(np.float64) - ref)) / ref)
    assert worst <= 4.25 * 2.0**-24, f"relative error {worst:.3g} = {worst * 2**24:.2f} * 2^-24"


def test_three_quarter_power_extremes(cpu_backend):
    # A window sum that overflows float32 is recomputed in double: the exact y
    # (issue 18; it was a tiny garbage value); a tiny k (below the rsqrt
    # form's range) takes the general power; NaN propagates.
    x = np.array([1e20, 1.0, np.nan, 2.0], np.float32).reshape(1, 4, 1, 1)
    y = lrn_forward(x, 1, 1e-4, 0.75, 1.0, backend=cpu_backend)
    assert_close(y[0, 0, 0, 0], lrn_ref(x[:, :1], 1, 1e-4, 0.75, 1.0)[0, 0, 0, 0], rtol=3e-6, atol=0)
    assert np.isnan(y[0, 2, 0, 0])
    assert_close(y[0, [1, 3], 0, 0], lrn_ref(x[:, [1, 3]], 1, 1e-4, 0.75, 1.0)[0, :, 0, 0], rtol=3e-6, atol=0)
    tiny = lrn_forward(x[:, [1, 3]], 1, 0.0, 0.75, 1e-35, backend=cpu_backend)
    assert_close(tiny, x[:, [1, 3]].astype(np.float64) * 1e-35**-0.75, rtol=3e-6, atol=0)


def test_power_special_values(cpu_backend):
    s = np.array([np.inf, np.nan, 1.0], np.float32)
    np.testing.assert_array_equal(_C._lrn_pow(s, 0.75, cpu_backend), [0.0, np.nan, 1.0])
    np.testing.assert_array_equal(_C._lrn_pow(s, -2.0, cpu_backend), [np.inf, np.nan, 1.0])


# ----------------------------------------------------------------- bad input

def test_empty_tensors():
    for shape in [(0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 4)]:
        x = np.ones(shape, np.float32)
        assert lrn_forward(x, 5).shape == shape
        assert lrn_backward(x, x, 3, region="within").shape == shape


def test_bad_inputs():
    x = np.ones((1, 4, 3, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        lrn_forward(x.astype(np.float64), 5)
    with pytest.raises(ValueError, match="4 dimensions"):
        lrn_forward(x[0], 5)
    with pytest.raises(ValueError, match="C-contiguous"):
        lrn_forward(np.ones((1, 4, 3, 6), np.float32)[..., ::2], 5)
    with pytest.raises(ValueError, match="size"):
        lrn_forward(x, 0)
    with pytest.raises(ValueError, match="k must be"):
        lrn_forward(x, 5, k=0.0)
    with pytest.raises(ValueError, match="alpha"):
        lrn_forward(x, 5, alpha=-1.0)
    with pytest.raises(ValueError, match="beta"):
        lrn_forward(x, 5, beta=float("nan"))
    with pytest.raises(ValueError, match="region"):
        lrn_forward(x, 5, region="spatial")
    with pytest.raises(ValueError, match="shape"):
        lrn_backward(np.ones((1, 4, 3, 4), np.float32), x, 5)
    with pytest.raises(ValueError, match="unknown backend"):
        lrn_forward(x, 5, backend="gpu")


# ---- _C.lrn_geometry: the one window rule, used by the float64 Python path ---------------------------------
def test_lrn_geometry_is_the_kernels_window():
    from dlcore import _C

    for size in (1, 2, 3, 4, 5, 8):
        assert _C.lrn_geometry((2, 9, 3, 3), size) == (size // 2, (size - 1) // 2, float(size))
    assert _C.lrn_geometry((2, 9, 3, 3), 3, region="within") == (1, 1, 9.0)
    assert _C.lrn_geometry((2, 9, 3, 3), 3, alpha_over_size=False)[2] == 1.0
    # reaches past the data change nothing: capped at the extent - 1 (no huge padding, no hang)
    assert _C.lrn_geometry((2, 9, 3, 3), 2**40) == (8, 8, float(2**40))
    with pytest.raises(ValueError, match="size must be >= 1"):
        _C.lrn_geometry((2, 9, 3, 3), 0)
    with pytest.raises(ValueError, match="k must be"):
        _C.lrn_geometry((2, 9, 3, 3), 3, k=0.0)
    with pytest.raises(TypeError, match="size must be an int"):
        _C.lrn_geometry((2, 9, 3, 3), 2.5)
    with pytest.raises(ValueError, match="input_shape must have 4 entries"):
        _C.lrn_geometry((2, 9), 3)


def test_lrn_float64_path_takes_the_kernels_window_and_checks():
    """The float64 formula (gradient checks) and the float32 kernel agree for even and huge sizes too, and
    the float64 path refuses what the kernels refuse, with their message."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 3, 5))
    F = dlcore.nn.functional
    for size in (2, 5, 2**40):
        y64 = F.local_response_norm(dlcore.tensor(x), size, alpha=0.5, beta=0.75, k=1.5).numpy()
        y32 = F.local_response_norm(dlcore.tensor(x.astype(np.float32)), size, alpha=0.5, beta=0.75, k=1.5).numpy()
        np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="k must be"):
        F.local_response_norm(dlcore.tensor(x), 3, k=-1.0)
