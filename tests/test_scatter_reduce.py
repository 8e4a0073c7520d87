"""Tensor.scatter_reduce against a per-element loop (float64), gradients by gradcheck, ties and zeros."""
import numpy as np
import pytest

import dlcore

REDUCE = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


def _reference(x, dim, index, src, reduce, include_self):
    out = x.copy()
    groups = {}
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        groups.setdefault(tuple(target), []).append(src[pos])
    for target, values in groups.items():
        out[target] = REDUCE[reduce](([x[target]] if include_self else []) + values)
    return out


@pytest.mark.parametrize("reduce", sorted(REDUCE))
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_values_and_gradients(rng, reduce, include_self, dim):
    x, src = rng.standard_normal((4, 5)), rng.standard_normal((6, 6))
    index = rng.integers(0, 4 if dim == 0 else 5, (5, 4) if dim == 0 else (4, 5))  # smaller than src
    got = dlcore.tensor(x).scatter_reduce(dim, dlcore.tensor(index), dlcore.tensor(src), reduce,
                                          include_self=include_self)
    np.testing.assert_allclose(got.numpy(), _reference(x, dim, index, src, reduce, include_self), rtol=1e-12)
    fn = lambda a, b: a.scatter_reduce(dim, dlcore.tensor(index), b, reduce, include_self=include_self)  # noqa
    assert dlcore.autograd.gradcheck(fn, [dlcore.tensor(x, requires_grad=True), dlcore.tensor(src, requires_grad=True)])


def test_ties_share_and_zeros_are_exact():
    x = dlcore.tensor(np.array([[1.0], [0.0]]), requires_grad=True)
    src = dlcore.tensor(np.array([[3.0], [3.0], [0.0], [5.0]]), requires_grad=True)
    index = dlcore.tensor(np.array([[0], [0], [1], [1]]))
    x.scatter_reduce(0, index, src, "amax").sum().backward()
    np.testing.assert_array_equal(src.grad.numpy().ravel(), [0.5, 0.5, 0.0, 1.0])  # the tie at 3 shares
    x.grad = src.grad = None
    x.scatter_reduce(0, index, src, "prod").sum().backward()  # slot 1: 0 * 0 * 5
    np.testing.assert_array_equal(x.grad.numpy().ravel(), [9.0, 0.0])  # two zeros in slot 1: no gradient
    np.testing.assert_array_equal(src.grad.numpy().ravel(), [3.0, 3.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="reduce must be"):
        x.scatter_reduce(0, index, src, "median")
