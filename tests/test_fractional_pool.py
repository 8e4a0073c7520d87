"""Fractional max pooling: against a direct loop over torch's window sequence, gradients, arguments."""
import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn


def _sequence(u, size, out, kernel):
    if out == 1:
        return [size - kernel]
    alpha = (size - kernel) / (out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - kernel]


def _reference_2d(x, kernel, out, samples):
    n, c, h, w = x.shape
    y = np.empty((n, c) + out)
    for b in range(n):
        for ch in range(c):
            rows = _sequence(samples[b, ch, 1], h, out[0], kernel)  # sample 1: H, sample 0: W (ATen's)
            cols = _sequence(samples[b, ch, 0], w, out[1], kernel)
            for i, r in enumerate(rows):
                for j, col in enumerate(cols):
                    y[b, ch, i, j] = x[b, ch, r:r + kernel, col:col + kernel].max()
    return y


@pytest.mark.parametrize("out", [(5, 4), (1, 1), (9, 7)])
def test_matches_the_window_sequence(rng, out):
    x, samples = rng.standard_normal((2, 3, 11, 9)), rng.random((2, 3, 2))
    y, idx = F.fractional_max_pool2d(dlcore.tensor(x), 3, output_size=out, return_indices=True,
                                     _random_samples=samples)
    np.testing.assert_array_equal(y.numpy(), _reference_2d(x, 3, out, samples))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), 2),
                                  y.numpy().reshape(2, 3, -1))


def test_gradient_ratio_3d_and_module(rng):
    x = dlcore.tensor(rng.permutation(2 * 7 * 8).reshape(1, 2, 7, 8) / 10.0, requires_grad=True)  # no ties
    samples = rng.random((1, 2, 2))
    assert dlcore.autograd.gradcheck(lambda a: F.fractional_max_pool2d(a, 2, output_ratio=0.5,
                                                                       _random_samples=samples), [x])
    v = rng.standard_normal((1, 2, 6, 7, 8))
    y = nn.FractionalMaxPool3d(2, output_size=(3, 4, 5))(dlcore.tensor(v))
    assert y.shape == (1, 2, 3, 4, 5)
    dlcore.manual_seed(3)
    a = nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))(dlcore.tensor(v[:, :, 0]))
    dlcore.manual_seed(3)
    b = nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))(dlcore.tensor(v[:, :, 0]))
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # the windows come from dlcore's generator


def test_bad_arguments():
    x = dlcore.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match="output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="does not fit"):
        F.fractional_max_pool2d(x, 3, output_size=(7, 7))
    with pytest.raises(ValueError, match="_random_samples"):
        F.fractional_max_pool2d(x, 2, output_size=4, _random_samples=np.zeros((1, 1, 3)))
