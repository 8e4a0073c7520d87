"""torch's gradient rules where values tie (maximum/minimum share half and half, max()/min() over everything
share evenly, clamp passes nothing at a bound) and its refusal to average integers. The expected gradients are
the ones torch 2.14 gives for the same inputs."""
import numpy as np
import pytest

import dlcore
from dlcore.autograd import gradcheck


def _grads(fn, *values):
    tensors = [dlcore.tensor(np.asarray(v, np.float64), requires_grad=True) for v in values]
    fn(*tensors).sum().backward()
    return [t.grad.numpy() for t in tensors]


def test_maximum_and_minimum_split_a_tie():
    a, b = [1.0, 2.0, 3.0], [1.0, 5.0, 3.0]
    da, db = _grads(dlcore.maximum, a, b)
    np.testing.assert_array_equal(da, [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(db, [0.5, 1.0, 0.5])
    da, db = _grads(dlcore.minimum, a, b)
    np.testing.assert_array_equal(da, [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(db, [0.5, 0.0, 0.5])
    (d,) = _grads(lambda x: dlcore.maximum(x, 2.0), [2.0, 1.0])  # a number on the other side: still half
    np.testing.assert_array_equal(d, [0.5, 0.0])
    (d,) = _grads(lambda x: x.maximum(x * 1.0), [4.0])  # both halves reach x
    np.testing.assert_array_equal(d, [1.0])


def test_maximum_broadcasts_and_promotes(rng):
    a = dlcore.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    b = dlcore.tensor(rng.standard_normal((1, 4)), requires_grad=True)
    assert gradcheck(lambda a, b: dlcore.maximum(a, b) * dlcore.minimum(a, b), (a, b))
    mixed = dlcore.maximum(dlcore.tensor([1, 5]), dlcore.tensor([2.0, 3.0]))
    assert mixed.dtype == np.float32 and mixed.tolist() == [2.0, 5.0]
    assert np.isnan(dlcore.maximum(dlcore.tensor([np.nan]), dlcore.tensor([1.0])).item())


def test_max_and_min_of_everything_share_a_tie_evenly():
    (d,) = _grads(lambda x: x.max(), [1.0, 3.0, 3.0, 0.0])
    np.testing.assert_array_equal(d, [0.0, 0.5, 0.5, 0.0])
    (d,) = _grads(lambda x: x.min(), [[2.0, -1.0], [-1.0, -1.0]])
    np.testing.assert_allclose(d, [[0.0, 1 / 3], [1 / 3, 1 / 3]], rtol=1e-15)
    (d,) = _grads(lambda x: x.max(), [1.0, np.nan, 3.0])  # a NaN maximum takes the gradient
    np.testing.assert_array_equal(d, [0.0, 1.0, 0.0])
    # along a dim the gradient goes to the index returned only (torch's max(dim))
    (d,) = _grads(lambda x: x.max(1).values, [[1.0, 3.0, 3.0]])
    np.testing.assert_array_equal(d, [[0.0, 1.0, 0.0]])


def test_clamp_passes_no_gradient_at_a_bound():
    (d,) = _grads(lambda x: x.clamp(2.0, 2.5), [1.0, 2.0, 2.2, 2.5, 3.0])
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0, 0.0, 0.0])
    (d,) = _grads(lambda x: x.clamp(min=0.0), [0.0, 1.0, -1.0, np.nan])
    np.testing.assert_array_equal(d, [0.0, 1.0, 0.0, 0.0])
    (d,) = _grads(lambda x: x.clamp(max=1.0), [-1.0, 1.0, 0.5])
    np.testing.assert_array_equal(d, [1.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_mean_of_integers_raises_as_torch(dtype):
    t = dlcore.tensor(np.array([1, 0, 1], dtype=dtype))
    for mean in (lambda: t.mean(), lambda: t.mean(0), lambda: dlcore.mean(t)):
        with pytest.raises(RuntimeError, match=f"floating point .*Got: {np.dtype(dtype)}"):
            mean()
    np.testing.assert_allclose(t.float().mean().item(), 2 / 3, rtol=1e-6)
