"""dlcore.Tensor: construction, dtypes, zero-copy NumPy/DLPack interop, comparisons."""
import numpy as np
import pytest

import dlcore


def test_factories_and_default_dtype():
    assert dlcore.tensor([1.0, 2.0]).dtype == np.float32
    assert dlcore.tensor([1, 2]).dtype == np.int64
    assert dlcore.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert dlcore.zeros(2, 3).shape == (2, 3) and dlcore.zeros(2, 3).dtype == np.float32
    assert dlcore.ones((4,), dtype=dlcore.float64).dtype == np.float64
    np.testing.assert_array_equal(dlcore.arange(5).numpy(), np.arange(5))
    assert dlcore.arange(0.0, 1.0, 0.25).dtype == np.float32
    dlcore.manual_seed(3)
    a = dlcore.randn(3, 4).numpy()
    dlcore.manual_seed(3)
    np.testing.assert_array_equal(a, dlcore.randn(3, 4).numpy())


def test_numpy_round_trip_is_zero_copy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = dlcore.from_numpy(a)
    assert t.numpy() is a
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    assert np.shares_memory(dlcore.as_tensor(a).numpy(), a)
    assert not np.shares_memory(dlcore.tensor(a).numpy(), a)  # tensor() copies, like torch.tensor


def test_dlpack_round_trip_is_zero_copy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = dlcore.from_dlpack(a)
    assert np.shares_memory(t.numpy(), a)
    back = np.from_dlpack(t)
    assert np.shares_memory(back, a)
    t2 = dlcore.from_dlpack(t)
    assert np.shares_memory(t2.numpy(), a)


def test_scalars_keep_the_tensor_dtype():
    t = dlcore.ones(3)
    for out in (t * 2.5, 2.5 * t, t + np.float64(1), t / 3, 1 - t, t ** 2):
        assert out.dtype == np.float32


def test_comparisons_give_bool_tensors():
    a = dlcore.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((a > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((a == dlcore.tensor([1.0, 0.0, 3.0])).numpy(), [True, False, True])
    np.testing.assert_array_equal((a <= 2).numpy(), [True, True, False])
    assert (a != 2).numpy().sum() == 2
    assert a.argmax().item() == 2


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        dlcore.tensor([1, 2], requires_grad=True)


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    p = dlcore.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p.fill_(1)
    with dlcore.no_grad():
        p.fill_(1)
    np.testing.assert_array_equal(p.numpy(), 1)


def test_repr_and_item():
    t = dlcore.tensor([[1.0, 2.0]], requires_grad=True)
    assert "requires_grad=True" in repr(t)
    assert dlcore.tensor(3.5).item() == 3.5
    assert t.shape == (1, 2) and t.ndim == 2 and t.numel() == 2 and len(t) == 1
    assert t.detach().requires_grad is False
