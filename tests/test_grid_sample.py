"""affine_grid / grid_sample against a per-point float64 reference, gradchecks, and the in-place
activations and other spellings of _functional_extra."""
import math

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F


def _reflect(x, low, high):
    span = high - low
    if span <= 0:
        return 0.0
    x = abs(x - low)
    flips = math.floor(x / span)
    extra = x - flips * span
    return low + extra if flips % 2 == 0 else high - extra


def _pixel(v, size, padding, align):
    p = (v + 1) / 2 * (size - 1) if align else ((v + 1) * size - 1) / 2
    if padding == "reflection":
        p = _reflect(p, 0.0, size - 1.0) if align else _reflect(p, -0.5, size - 0.5)
    if padding in ("border", "reflection"):
        p = min(max(p, 0.0), size - 1.0)
    return p


def _reference(x, grid, mode, padding, align):
    n, c, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    for b in range(n):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                px, py = _pixel(grid[b, i, j, 0], w, padding, align), _pixel(grid[b, i, j, 1], h, padding, align)
                if mode == "nearest":
                    taps = [(round(py), round(px), 1.0)]  # Python's round: half to even, as torch's nearbyint
                else:
                    x0, y0 = math.floor(px), math.floor(py)
                    fx, fy = px - x0, py - y0
                    taps = [(y0, x0, (1 - fy) * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx), (y0 + 1, x0, fy * (1 - fx)),
                            (y0 + 1, x0 + 1, fy * fx)]
                for yy, xx, weight in taps:
                    if 0 <= yy < h and 0 <= xx < w:
                        out[b, :, i, j] += weight * x[b, :, yy, xx]
    return out


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_matches_the_reference(rng, mode, padding, align):
    x = rng.standard_normal((2, 3, 5, 7))
    grid = rng.uniform(-1.6, 1.6, (2, 3, 4, 2))
    got = F.grid_sample(dlcore.tensor(x), dlcore.tensor(grid), mode, padding, align)
    np.testing.assert_allclose(got.numpy(), _reference(x, grid, mode, padding, align), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_gradients(rng, padding):
    x = dlcore.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    grid = dlcore.tensor(rng.uniform(-1.3, 1.3, (1, 3, 3, 2)), requires_grad=True)
    assert dlcore.autograd.gradcheck(lambda a, g: F.grid_sample(a, g, padding_mode=padding), [x, grid])


@pytest.mark.parametrize("align", [False, True])
def test_identity_affine_grid_reproduces_the_image(rng, align):
    x = rng.standard_normal((2, 3, 4, 6))
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (2, 1, 1))
    grid = F.affine_grid(dlcore.tensor(theta), (2, 3, 4, 6), align_corners=align)
    assert grid.shape == (2, 4, 6, 2)
    np.testing.assert_allclose(F.grid_sample(dlcore.tensor(x), grid, align_corners=align).numpy(), x, atol=1e-12)
    shift = theta.copy()
    shift[:, 0, 2] = 2 / 6 if not align else 2 / 5  # one pixel to the right in normalized units
    moved_grid = F.affine_grid(dlcore.tensor(shift), (2, 3, 4, 6), align)
    moved = F.grid_sample(dlcore.tensor(x), moved_grid, align_corners=align)
    np.testing.assert_allclose(moved.numpy()[..., :-1], x[..., 1:], atol=1e-12)


def test_affine_grid_3d_and_gradient(rng):
    theta = dlcore.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    grid = F.affine_grid(theta, (2, 1, 2, 3, 4), align_corners=True)
    assert grid.shape == (2, 2, 3, 4, 3)
    z, y, x = -1.0, 0.0, 1.0 / 3  # voxel (0, 1, 2): base (x, y, z, 1)
    np.testing.assert_allclose(grid.numpy()[0, 0, 1, 2], theta.numpy()[0] @ np.array([x, y, z, 1.0]), rtol=1e-12)
    assert dlcore.autograd.gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), False),
                                     [dlcore.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)])


def test_bad_arguments_raise(rng):
    x, grid = dlcore.randn(1, 1, 3, 3), dlcore.randn(1, 2, 2, 2)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, grid, mode="bicubic")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, grid, padding_mode="wrap")
    with pytest.raises(ValueError, match="expected input"):
        F.grid_sample(x, dlcore.randn(1, 2, 2, 3))
    with pytest.raises(ValueError, match="does not fit"):
        F.affine_grid(dlcore.randn(1, 2, 3), (2, 1, 3, 3))


def test_in_place_activations_change_their_input_on_the_tape(rng):
    a = dlcore.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = a * 2
    same = F.elu_(t, 0.5)
    assert same is t
    expected = np.where(2 * a.numpy() > 0, 2 * a.numpy(), 0.5 * (np.exp(2 * a.numpy()) - 1))
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)
    t.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.where(a.numpy() > 0, 2.0, np.exp(2 * a.numpy())), rtol=1e-12)
    plain = dlcore.tensor(np.array([-1.0, 2.0]))
    F.relu_(plain)
    F.hardtanh_(plain, -0.5, 1.5)
    np.testing.assert_array_equal(plain.numpy(), [0.0, 1.5])
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu_(a)


def test_instance_norm_and_spellings(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    got = F.instance_norm(dlcore.tensor(x), weight=dlcore.tensor(np.full(3, 2.0)), bias=dlcore.tensor(np.ones(3)))
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(got.numpy(), 2 * (x - mean) / np.sqrt(var + 1e-5) + 1, rtol=1e-10)
    y, idx = F.max_pool2d_with_indices(dlcore.tensor(x), 2)
    assert y.shape == (2, 3, 2, 2) and idx.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(F.upsample_nearest(dlcore.tensor(x), scale_factor=2).numpy(),
                                  x.repeat(2, axis=2).repeat(2, axis=3))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="floating"):
        F.grid_sample(dlcore.tensor(np.ones((1, 1, 3, 3), np.int64)), dlcore.tensor(np.zeros((1, 2, 2, 2), np.int64)))
