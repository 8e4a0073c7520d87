"""dlcore.testing.assert_close / make_tensor: torch.testing's rule, defaults and messages."""
import numpy as np
import pytest

import dlcore
from dlcore.testing import assert_close, make_tensor


def test_close_values_pass_with_the_dtype_defaults():
    x = dlcore.tensor(np.array([1.0, 2.0, 1e6], np.float32))
    assert_close(x, x * (1 + 1e-6))  # within float32's rtol 1.3e-6
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        assert_close(x, dlcore.tensor(np.array([1.0, 2.0, 1e6 + 2], np.float32)))
    assert_close(dlcore.tensor([1, 2]), dlcore.tensor([1, 2]))
    with pytest.raises(AssertionError, match="Greatest absolute difference: 1.0 at index \\(1,\\)"):
        assert_close(dlcore.tensor([1, 2]), dlcore.tensor([1, 3]))  # integers: exact


def test_explicit_tolerances_nan_and_inf():
    a = np.array([1.0, np.nan, np.inf])
    assert_close(a, a.copy(), equal_nan=True)
    with pytest.raises(AssertionError, match="not close"):
        assert_close(a, a.copy())
    assert_close(np.array([1.0]), np.array([1.05]), rtol=0.0, atol=0.06)
    with pytest.raises(ValueError, match="both rtol and atol"):
        assert_close(a, a, rtol=1e-3)


def test_structure_dtype_shape_and_messages():
    t = dlcore.ones(2, 3)
    assert_close({"a": [t, 1.0]}, {"a": [t.clone(), 1.0]})
    with pytest.raises(AssertionError, match="same keys"):
        assert_close({"a": t}, {"b": t})
    with pytest.raises(AssertionError, match="same length"):
        assert_close([t], [t, t])
    with pytest.raises(AssertionError, match="same shape"):
        assert_close(t, dlcore.ones(3, 2))
    with pytest.raises(AssertionError, match="same dtype"):
        assert_close(t, t.double())
    assert_close(t, t.double(), check_dtype=False)
    with pytest.raises(AssertionError, match="custom: Tensor-likes"):
        assert_close(t, t * 2, msg=lambda default: "custom: " + default)


def test_make_tensor_ranges_dtypes_and_seed():
    x = make_tensor(1000, dtype=dlcore.float32, seed=1)
    assert x.dtype == np.float32 and x.shape == (1000,)
    assert -9 <= x.numpy().min() and x.numpy().max() < 9
    assert np.array_equal(x.numpy(), make_tensor((1000,), dtype=dlcore.float32, seed=1).numpy())
    i = make_tensor(2, 50, dtype=dlcore.int64, low=0, high=3, exclude_zero=True, seed=2)
    assert set(np.unique(i.numpy())) <= {1, 2}
    n = make_tensor(4, 6, dtype=dlcore.float64, noncontiguous=True, requires_grad=True, seed=3)
    assert not n.numpy().flags.c_contiguous and n.requires_grad
